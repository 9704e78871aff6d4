"""Stages, pipelines and the runner that consults the artifact store before running a stage.

A stage is a plain function that writes files into an output directory. It reads
the artifacts of earlier stages by role (``inputs``: role -> stage name) and its
own typed slice of the config. Its artifact key is made from the stage name and
version, that config slice, the hash of the code its builder's module reaches
through its imports (:mod:`seqmask.codehash`), the digests of its input artifacts
(so a stage downstream of a rebuilt but byte-identical artifact is reused) and a
fingerprint of the raw files it reads. The runner reuses a published artifact that
verifies, and otherwise builds and publishes atomically. Prefect is not imported
here: ``flows/`` runs each stage as a task through :func:`run_pipeline`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from seqmask.codehash import closure_packages, code_hash
from seqmask.executor import Executor
from seqmask.files import exclusive
from seqmask.runlog import RunLog
from seqmask.store import ArtifactRef, ArtifactStore, make_key

log = logging.getLogger("seqmask")

RUNTIME_PACKAGES = ("seqmask", "dask", "distributed", "prefect")
"""Packages that run every stage (the store, the executor, the orchestrator): recorded in each lineage beside the
packages of the stage's own code (:func:`seqmask.codehash.closure_packages`), which its key covers."""
ProgressFn = Callable[[str, int, int], None]
"""``(what, done, total)``: progress of long work inside a stage (training steps, scored utterances)."""


class StageFailed(RuntimeError):
    """A stage raised; carries the stage name and the original error as ``__cause__``. Its message shows the first
    line of each of the error's notes too (what a map was over: :func:`seqmask.executor.run_item`)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        context = "".join(f" ({note.splitlines()[0]})" for note in getattr(error, "__notes__", ()) if note.strip())
        super().__init__(f"stage {stage!r} failed: {type(error).__name__}: {error}{context}")
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class StageContext:
    """What a stage's build function gets."""

    config: Any
    """The stage's own slice of the experiment config (what its key covers)."""
    inputs: Mapping[str, ArtifactRef]
    """Published upstream artifacts by role."""
    out: Path
    """Empty directory to write the artifact's files into."""
    executor: Executor
    """Parallel map (Dask when a client is attached, a plain loop otherwise)."""
    stage: str
    """Name of the running stage, for logs and progress."""
    scratch: Path
    """Directory that survives a crash of this stage (checkpoints to resume from); removed once published."""
    progress: ProgressFn = lambda what, done, total: None
    """Report progress of long work (the orchestrator shows it; a progress bar is the stage's own)."""

    def step_progress(self, what: str) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback reporting ``what`` of this stage (e.g. training steps) to the orchestrator."""
        return lambda done, total: self.progress(f"{self.stage}: {what}", done, total)

    def input_path(self, role: str) -> Path:
        if role not in self.inputs:
            raise KeyError(f"stage {self.stage!r} has no input {role!r} (inputs: {', '.join(self.inputs) or 'none'})")
        return self.inputs[role].path


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline: a build function plus what its key depends on."""

    name: str
    version: int
    build: Callable[[StageContext], None]
    """A module-level function; the code hash covers its module and what that module imports."""
    config_of: Callable[[Any], Any]
    """Slice of the experiment config the stage reads (a dataclass or a mapping of them)."""
    inputs: Mapping[str, str] = field(default_factory=dict)
    """Role -> name of the upstream stage whose artifact fills it."""
    sources: Callable[[Any], Sequence[Path]] = lambda config: ()
    """Raw files or directories the stage reads, fingerprinted into the key."""
    enabled: Callable[[Any], bool] = lambda config: True
    """Whether the stage is part of a run with this experiment config."""
    worker: bool = False
    """Build in a worker process of the run's Dask cluster when it has one (one thread): long single-process work
    such as training, so that two such stages run side by side on two cores. Such a stage does not map."""
    priority: int = 0
    """Among ``worker`` stages waiting for a worker, the higher goes first: those that others wait for, the long
    ones."""
    gpu: bool = False
    """Wants a GPU (training, sampling): a deployment of a flow with such a stage goes to the ``gpu`` work pool, and on
    a Dask cluster where some workers advertise a ``GPU`` resource it builds on one of those. Runs anywhere
    otherwise."""
    writes: tuple[str, ...] = ()
    """Files the build must leave in its output (its module's ``WRITES``): a build that leaves one out fails."""

    @property
    def module(self) -> str:
        """The module the stage's build function lives in (what ``--dry-run`` prints beside its key)."""
        return self.build.__module__


def training(priority: int, *, gpu: bool = True) -> dict[str, Any]:
    """The flags of a training stage (``stage_of(..., **training(2))``): built alone on a worker process of the run's
    cluster, on a GPU where there is one, ``priority`` ranking it among the training stages waiting for a worker."""
    return {"worker": True, "gpu": gpu, "priority": priority}


def stage_name(module: ModuleType, instance: str | None = None) -> str:
    """``seqmask.speech.stages.espeak_synth`` -> ``speech-espeak-synth``; ``-INSTANCE`` after it for a stage run once
    per run of a comparison (``speech-finetune-ask2mask-s0``)."""
    parts = module.__name__.split(".")
    if len(parts) != 4 or parts[0] != "seqmask" or parts[2] != "stages":
        raise ValueError(f"module {module.__name__!r}: expected a stage module seqmask.PIPELINE.stages.NAME")
    name = f"{parts[1]}-{parts[3].replace('_', '-')}"
    return f"{name}-{instance}" if instance else name


def stage_of(
    module: ModuleType,
    instance: str | None = None,
    *,
    config_of: Callable[[Any], Any],
    inputs: Mapping[str, str] | None = None,
    **options: Any,
) -> Stage:
    """The stage a stage module declares: its ``build``, ``VERSION``, input ``ROLES``, the files it ``WRITES`` and a
    name from the module's (:func:`stage_name`). ``config_of`` gives its typed slice (the module's ``Config``),
    ``inputs`` fills roles with upstream stage names (a role ``R-X`` fills an entry ``R`` of ``ROLES`` once per run X,
    as a report reads each run's evaluation), and ``options`` are the other :class:`Stage` fields (``sources``,
    ``enabled``, :func:`training`'s flags)."""
    name = stage_name(module, instance)
    inputs = dict(inputs or {})
    unknown = sorted(
        role for role in inputs if not any(role == known or role.startswith(f"{known}-") for known in module.ROLES)
    )
    if unknown:
        raise ValueError(
            f"stage {name!r}: roles {unknown} are not among the roles {module.__name__} reads: {list(module.ROLES)}"
        )
    return Stage(
        name, module.VERSION, module.build, config_of=config_of, inputs=inputs, writes=tuple(module.WRITES), **options
    )


@dataclass(frozen=True)
class Pipeline:
    """Stages in the order they run; every input names an earlier stage or an ``external`` one."""

    name: str
    stages: tuple[Stage, ...]
    external: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Stage names this pipeline reads from other pipelines of the same flow: name -> (pipeline, stage)."""

    def __post_init__(self) -> None:
        seen: set[str] = set(self.external)
        for stage in self.stages:
            missing = [name for name in stage.inputs.values() if name not in seen]
            if missing:
                raise ValueError(f"pipeline {self.name!r}: stage {stage.name!r} reads {missing} before they run")
            if stage.name in seen:
                raise ValueError(f"pipeline {self.name!r}: two stages are named {stage.name!r}")
            seen.add(stage.name)
            code_hash(stage.build.__module__)  # snapshot the sources this process runs

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def downstream_of(self, name: str | None) -> frozenset[str]:
        """``name`` and every stage after it (what ``--from name`` recomputes)."""
        if name is None:
            return frozenset()
        names = self.stage_names()
        if name not in names:
            raise ValueError(f"pipeline {self.name!r} has no stage {name!r} (stages: {', '.join(names)})")
        return frozenset(names[names.index(name) :])


Plan = Sequence[tuple[Pipeline, Any]]
"""What a flow runs: pipelines, each with its experiment config, in order; a later one may read an earlier one's
stages."""


@dataclass(frozen=True)
class Outcome:
    """What running (or reusing) one stage gave: small enough for Prefect results."""

    ref: ArtifactRef
    reused: bool
    seconds: float
    summary: Mapping[str, Any] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """Config slices as JSON-able data (dataclasses to dicts, tuples and paths to lists and strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def fingerprint_sources(paths: Sequence[Path]) -> str:
    """Cheap fingerprint of raw inputs: relative path, size and mtime of every file (like make)."""
    digest = hashlib.sha256()
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"input {root} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            st = path.stat()
            digest.update(f"{path.relative_to(root.parent)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def package_versions(names: Collection[str]) -> dict[str, str]:
    """Python's version and that of each installed distribution among ``names``."""
    versions = {"python": platform.python_version()}
    for name in sorted(names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def stage_packages(stage: Stage) -> dict[str, str]:
    """The versions of Python and of the installed packages the stage's code imports (:func:`closure_packages`): part
    of its key, so an upgrade of one of them recomputes what it made."""
    return package_versions(closure_packages(stage.module))


class Runner:
    """Runs stages through the store: reuse what verifies, build and publish the rest."""

    def __init__(
        self,
        store: ArtifactStore,
        *,
        executor: Executor | None = None,
        run_log: RunLog | None = None,
        force: Collection[str] = (),
        progress: ProgressFn | None = None,
        processes: int = 1,
    ) -> None:
        self.store = store
        self.executor = executor or Executor()
        self.run_log = run_log
        self.force = frozenset(force)
        self.progress = progress
        self.processes = processes
        """Data-parallel training processes (``seqmask train`` under ``torchrun``); more than 1 is part of the key,
        since N processes do not give one process's numbers bit for bit."""

    def key(self, stage: Stage, config: Any, inputs: Mapping[str, ArtifactRef]) -> str:
        """The store key of ``stage`` for this experiment config and these inputs (by role)."""
        return make_key(
            stage=stage.name,
            version=stage.version,
            config={
                "config": plain(stage.config_of(config)),
                "sources": fingerprint_sources(stage.sources(config)),
                **({"processes": self.processes} if self.processes > 1 else {}),
            },
            code_hash=code_hash(stage.build.__module__),
            inputs={role: ref.digest for role, ref in sorted(inputs.items())},
            packages=stage_packages(stage),
        )

    def reusable_key(self, stage: Stage, config: Any, inputs: Mapping[str, ArtifactRef]) -> str | None:
        """A cache key for an orchestrator, offered only while a verified artifact is published.

        It covers the store location and the artifact's digest besides its key, so a
        cached result always references exactly the artifact that verifies now.
        None when the stage is forced, or its artifact is missing or corrupt.
        """
        if stage.name in self.force:
            return None
        try:
            key = self.key(stage, config, inputs)
        except Exception:  # e.g. a missing source directory: let run() raise it as the stage's failure
            return None
        ref = self.store.get(key)
        if ref is None:
            return None
        return hashlib.sha256(f"{self.store.root.resolve()}\0{key}\0{ref.digest}".encode()).hexdigest()

    def run(self, stage: Stage, config: Any, upstream: Mapping[str, Outcome]) -> Outcome:
        """Reuse or build the stage's artifact from its upstream stages' outcomes (by role); failures are raised as
        ``StageFailed``."""
        inputs = {role: outcome.ref for role, outcome in upstream.items()}
        started = time.perf_counter()
        try:
            key = self.key(stage, config, inputs)
            if self.run_log:
                self.run_log.stage_started(stage.name, key)
            slice_ = stage.config_of(config)
            lineage = {
                "inputs": {
                    role: {"key": ref.key, "digest": ref.digest, "stage": ref.stage} for role, ref in inputs.items()
                },
                "config": plain(slice_),
                "stage_version": stage.version,
                "code_hash": code_hash(stage.build.__module__),
                "packages": {**package_versions(RUNTIME_PACKAGES), **stage_packages(stage)},
                "argv": sys.argv,
                "cwd": os.getcwd(),
                "processes": self.processes,
            }

            def build(out: Path) -> None:
                log.info("stage %s: computing artifact %s", stage.name, key[:12])
                scratch = self.store.scratch_dir(key)
                if stage.worker:
                    self.executor.call(
                        build_alone,
                        stage.build,
                        slice_,
                        dict(inputs),
                        out,
                        stage.name,
                        scratch,
                        self.store.builder_lock_path(key),
                        priority=stage.priority,
                        gpu=stage.gpu,
                    )
                else:
                    progress = self.progress or (lambda what, done, total: None)
                    stage.build(
                        StageContext(
                            config=slice_,
                            inputs=dict(inputs),
                            out=out,
                            executor=self.executor,
                            stage=stage.name,
                            scratch=scratch,
                            progress=progress,
                        )
                    )
                missing = [name for name in stage.writes if not (out / name).exists()]
                if missing:
                    raise RuntimeError(
                        f"{stage.module}.build wrote no {', '.join(missing)} (its WRITES), found "
                        f"{sorted(p.name for p in out.iterdir())}"
                    )

            ref, reused = self.store.get_or_build(
                key, stage=stage.name, build=build, lineage=lineage, force=stage.name in self.force
            )
        except Exception as err:
            if self.run_log:
                self.run_log.stage_failed(stage.name, f"{type(err).__name__}: {err}", time.perf_counter() - started)
            raise StageFailed(stage.name, err) from err
        outcome = Outcome(ref=ref, reused=reused, seconds=time.perf_counter() - started, summary=read_summary(ref))
        log.info(
            "stage %s: %s artifact %s in %.2f s",
            stage.name,
            "reused verified" if reused else "published",
            ref.key[:12],
            outcome.seconds,
        )
        if self.run_log:
            self.run_log.stage_finished(stage.name, outcome.ref.key, reused=outcome.reused, seconds=outcome.seconds)
        return outcome

    def record_reused(self, stage: Stage, outcome: Outcome, seconds: float) -> Outcome:
        """Log a stage that the orchestrator answered from its own cache of this runner's keys."""
        reused = dataclasses.replace(outcome, reused=True, seconds=seconds)
        log.info("stage %s: reused verified artifact %s (orchestrator cache)", stage.name, outcome.ref.key[:12])
        if self.run_log:
            self.run_log.stage_finished(stage.name, reused.ref.key, reused=True, seconds=reused.seconds)
        return reused


def build_alone(
    build: Callable[[StageContext], None],
    config: Any,
    inputs: Mapping[str, ArtifactRef],
    out: Path,
    stage: str,
    scratch: Path,
    builder_lock: Path,
) -> None:
    """Build a ``worker`` stage where this function runs (a Dask worker): no cluster of its own, progress in its logs,
    and ``builder_lock`` held (:meth:`ArtifactStore.builder_lock_path`)."""
    with exclusive(builder_lock):
        build(StageContext(config=config, inputs=inputs, out=out, executor=Executor(), stage=stage, scratch=scratch))


def read_summary(ref: ArtifactRef) -> dict[str, Any]:
    """A stage's optional ``summary.json`` (counts and totals worth showing in run reports)."""
    path = ref.path / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


StageRunner = Callable[[Stage, Any, Mapping[str, Any]], Any]
"""Runs (or submits) one stage given its upstream stages' handles by role and returns its own handle: an
:class:`Outcome` (:meth:`Runner.run`), or a future of one (a task submitted to an orchestrator)."""


def run_pipeline(
    pipeline: Pipeline, config: Any, run_stage: StageRunner, *, given: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run (or submit) every enabled stage in order, each given the handles ``run_stage`` returned for its inputs;
    ``given`` holds those of the stages ``pipeline.external`` names. Returns every stage's handle."""
    given = dict(given or {})
    if set(given) != set(pipeline.external):
        raise ValueError(
            f"pipeline {pipeline.name!r} reads {sorted(pipeline.external)} from other pipelines, given {sorted(given)}"
        )
    handles: dict[str, Any] = {}
    for stage in pipeline.stages:
        if not stage.enabled(config):
            continue
        known = {**given, **handles}
        handles[stage.name] = run_stage(
            stage, config, {role: known[name] for role, name in stage.inputs.items() if name in known}
        )
    return handles


def run_plan(
    plan: Plan, run_one: Callable[[Pipeline, Any, Mapping[str, Any]], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Run the pipelines of a flow in order, each given the outcomes its ``external`` inputs name; by pipeline name."""
    done: dict[str, dict[str, Outcome]] = {}
    for pipeline, config in plan:
        given = {name: done[source][stage] for name, (source, stage) in pipeline.external.items()}
        done[pipeline.name] = run_one(pipeline, config, given)
    return done


@dataclass(frozen=True)
class PlannedStage:
    """What a run would do with one stage (``seqmask run --dry-run``)."""

    pipeline: str
    stage: str
    module: str
    """Where the stage is built (its build function's module)."""
    key: str | None
    """None when an input is computed first: the key follows from that input's digest."""
    action: str
    """``reuse``, ``compute`` or ``compute after <stage>``."""


def forced(pipeline: Pipeline, from_stage: str | None) -> frozenset[str]:
    """What ``--from from_stage`` recomputes in ``pipeline`` (nothing when the stage is not one of its own)."""
    return pipeline.downstream_of(from_stage) if from_stage in pipeline.stage_names() else frozenset()


def dry_run(plan: Plan, runner: Runner, *, from_stage: str | None = None) -> list[PlannedStage]:
    """Each enabled stage's key and whether it would be reused or computed; runs and changes nothing.

    A stage downstream of one that is computed has no key yet: its key follows from that
    input's digest (and if the rebuilt input is byte-identical, it is reused then).
    """
    planned: list[PlannedStage] = []
    done: dict[str, dict[str, ArtifactRef | frozenset[str]]] = {}
    for pipeline, config in plan:
        force = forced(pipeline, from_stage)
        # a stage's artifact when it would be reused, else the stages computed first that it waits for
        known: dict[str, ArtifactRef | frozenset[str]] = {
            name: done[p][s] for name, (p, s) in pipeline.external.items()
        }
        for stage in pipeline.stages:
            if not stage.enabled(config):
                continue
            inputs = {role: known[name] for role, name in stage.inputs.items() if name in known}
            waits = frozenset().union(*(ref for ref in inputs.values() if isinstance(ref, frozenset)))
            if waits:
                key, action, known[stage.name] = None, "compute after " + ", ".join(sorted(waits)), waits
            else:
                key = runner.key(stage, config, inputs)
                ref = None if stage.name in force else runner.store.find(key)
                action, known[stage.name] = ("reuse", ref) if ref is not None else ("compute", frozenset({stage.name}))
            planned.append(PlannedStage(pipeline.name, stage.name, stage.module, key, action))
        done[pipeline.name] = known
    return planned
