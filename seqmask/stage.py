"""Stages and the runner that consults the artifact store before running one.

A stage is a plain function that writes files into an output directory.  Its
artifact key is made from the stage name and version, the part of the config it
reads, a hash of its own source modules, the digests of its input artifacts and a
fingerprint of the raw files it reads.  The runner reuses a published artifact
whose files verify, and otherwise builds and publishes atomically.  Prefect is
not imported here: ``flows/`` wraps ``Runner.run`` in tasks.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence

from seqmask.executor import Executor
from seqmask.runlog import RunLog
from seqmask.store import ArtifactRef, ArtifactStore, make_key

log = logging.getLogger("seqmask")

TRACKED_PACKAGES = ("seqmask", "torch", "torchaudio", "fairseq2", "numpy", "soundfile", "dask", "distributed", "prefect")


class StageFailed(RuntimeError):
    """A stage raised; carries the stage name and the original error as ``__cause__``."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class StageContext:
    """What a stage's build function gets."""

    config: Any
    """The stage's own slice of the experiment config (what its key covers)."""
    inputs: Mapping[str, ArtifactRef]
    """Published upstream artifacts by stage name."""
    out: Path
    """Empty directory to write the artifact's files into."""
    executor: Executor
    """Parallel map (Dask when a client is attached, a plain loop otherwise)."""
    stage: str
    """Name of the running stage, for logs and progress."""
    scratch: Path
    """Directory that survives a crash of this stage (checkpoints to resume from); removed once published."""

    def input_path(self, name: str) -> Path:
        if name not in self.inputs:
            raise KeyError(f"stage {self.stage!r} has no input {name!r} (inputs: {', '.join(self.inputs) or 'none'})")
        return self.inputs[name].path


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline: a build function plus what its key depends on."""

    name: str
    version: int
    build: Callable[[StageContext], None]
    config_of: Callable[[Any], Any]
    """Slice of the experiment config the stage reads (a dataclass or a mapping of them)."""
    inputs: tuple[str, ...] = ()
    """Names of upstream stages whose artifacts the stage reads."""
    modules: tuple[str, ...] = ()
    """Modules whose source is hashed into the key, besides the build function's own."""
    sources: Callable[[Any], Sequence[Path]] = lambda config: ()
    """Raw files or directories the stage reads, fingerprinted into the key."""
    enabled: Callable[[Any], bool] = lambda config: True
    """Whether the stage is part of a run with this experiment config."""


@dataclass(frozen=True)
class Pipeline:
    """Stages in the order they run; every input names an earlier stage."""

    name: str
    stages: tuple[Stage, ...]
    external: tuple[str, ...] = ()
    """Inputs that artifacts of other pipelines provide (``run_pipeline_flow(..., given=...)``)."""

    def __post_init__(self) -> None:
        seen: set[str] = set(self.external)
        for stage in self.stages:
            missing = [name for name in stage.inputs if name not in seen]
            if missing:
                raise ValueError(f"pipeline {self.name!r}: stage {stage.name!r} reads {missing} before they run")
            seen.add(stage.name)
            code_hash(stage)  # snapshot the sources this process runs

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def downstream_of(self, name: str | None) -> frozenset[str]:
        """``name`` and every stage after it (what ``--from name`` recomputes)."""
        if name is None:
            return frozenset()
        names = self.stage_names()
        if name not in names:
            raise ValueError(f"pipeline {self.name!r} has no stage {name!r} (stages: {', '.join(names)})")
        return frozenset(names[names.index(name):])


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


def code_hash(stage: Stage) -> str:
    """sha256 over the source files of the stage's build module and declared modules."""
    digest = hashlib.sha256()
    for name in sorted({stage.build.__module__, *stage.modules}):
        digest.update(name.encode() + b"\0" + _source_digest(name).encode() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _source_digest(module: str) -> str:
    """sha256 of a module's source, read once per process: a file edited during a run does not
    change the keys of the code this process already runs (``Pipeline`` reads them all up front)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"module {module!r} has no source file to hash")
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()


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


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class Runner:
    """Runs stages through the store: reuse what verifies, build and publish the rest."""

    def __init__(
        self,
        store: ArtifactStore,
        *,
        executor: Executor | None = None,
        run_log: RunLog | None = None,
        force: Collection[str] = (),
    ) -> None:
        self.store = store
        self.executor = executor or Executor()
        self.run_log = run_log
        self.force = frozenset(force)

    def key(self, stage: Stage, config: Any, inputs: Mapping[str, ArtifactRef]) -> str:
        """The store key of ``stage`` for this experiment config and these inputs."""
        return make_key(
            stage=stage.name,
            version=stage.version,
            config={"config": plain(stage.config_of(config)), "sources": fingerprint_sources(stage.sources(config))},
            code_hash=code_hash(stage),
            inputs={name: ref.digest for name, ref in sorted(inputs.items())},
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

    def run(self, stage: Stage, config: Any, inputs: Mapping[str, ArtifactRef]) -> Outcome:
        """Reuse or build the stage's artifact; failures are raised as ``StageFailed``."""
        started = time.perf_counter()
        try:
            key = self.key(stage, config, inputs)
            if self.run_log:
                self.run_log.stage_started(stage.name, key)
            slice_ = stage.config_of(config)
            stage_code = code_hash(stage)
            lineage = {
                "inputs": {name: {"key": ref.key, "digest": ref.digest, "stage": ref.stage} for name, ref in inputs.items()},
                "config": plain(slice_),
                "stage_version": stage.version,
                "code_hash": stage_code,
                "packages": package_versions(),
                "argv": sys.argv,
                "cwd": os.getcwd(),
            }

            scratch = self.store.root / "scratch" / key

            def build(out: Path) -> None:
                log.info("stage %s: computing artifact %s", stage.name, key[:12])
                scratch.mkdir(parents=True, exist_ok=True)
                stage.build(StageContext(config=slice_, inputs=dict(inputs), out=out, executor=self.executor, stage=stage.name, scratch=scratch))

            ref, reused = self.store.get_or_build(
                key, stage=stage.name, build=build, lineage=lineage, force=stage.name in self.force
            )
            shutil.rmtree(scratch, ignore_errors=True)
        except Exception as err:
            if self.run_log:
                self.run_log.stage_failed(stage.name, f"{type(err).__name__}: {err}", time.perf_counter() - started)
            raise StageFailed(stage.name, err) from err
        outcome = Outcome(ref=ref, reused=reused, seconds=time.perf_counter() - started, summary=read_summary(ref))
        log.info(
            "stage %s: %s artifact %s in %.2f s",
            stage.name, "reused verified" if reused else "published", ref.key[:12], outcome.seconds,
        )
        if self.run_log:
            self.run_log.stage_finished(stage.name, outcome)
        return outcome

    def record_reused(self, stage: Stage, outcome: Outcome, seconds: float) -> Outcome:
        """Log a stage that the orchestrator answered from its own cache of this runner's keys."""
        reused = dataclasses.replace(outcome, reused=True, seconds=seconds)
        log.info("stage %s: reused verified artifact %s (orchestrator cache)", stage.name, outcome.ref.key[:12])
        if self.run_log:
            self.run_log.stage_finished(stage.name, reused)
        return reused


def read_summary(ref: ArtifactRef) -> dict[str, Any]:
    """A stage's optional ``summary.json`` (counts and totals worth showing in run reports)."""
    path = ref.path / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_pipeline(pipeline: Pipeline, config: Any, runner: Runner) -> dict[str, Outcome]:
    """Run every enabled stage in order without an orchestrator."""
    outcomes: dict[str, Outcome] = {}
    for stage in pipeline.stages:
        if not stage.enabled(config):
            continue
        inputs = {name: outcomes[name].ref for name in stage.inputs if name in outcomes}
        outcomes[stage.name] = runner.run(stage, config, inputs)
    return outcomes
