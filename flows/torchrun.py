"""``seqmask train FLOW STAGE``: one training stage of a flow, data-parallel when started by ``torchrun``.

    torchrun --nproc-per-node 2 -m seqmask.cli train motion motion-train-none-s0 --preset small

Every rank joins one process group (gloo on CPU, NCCL on CUDA: fairseq2's
``ProcessGroupGang``) set as fairseq2's default gangs, which the shared training loop
reads (:mod:`seqmask.training.distributed`). Rank 0 builds or reuses the stages the
trained one reads, without Prefect or Dask; then every rank builds the stage, each on
its share of every batch, in one shared scratch directory (rank 0 alone checkpoints
there, so a killed run resumes). Rank 0 publishes the artifact; the other ranks' copies
are discarded. The number of processes is part of the artifact key. Without
``torchrun`` it is one process, and the artifact is the one ``seqmask run`` makes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from fairseq2.gang import (
    Gang,
    ProcessGroupGang,
    create_fake_gangs,
    create_parallel_gangs,
    get_default_gangs,
    set_default_gangs,
)

from seqmask.executor import Executor
from seqmask.fairseq2_runtime import init_fairseq2_runtime
from seqmask.runlog import RunLog
from seqmask.stage import Outcome, Pipeline, Plan, Runner, Stage, StageContext
from seqmask.store import ArtifactRef, ArtifactStore
from seqmask.training.device import default_device


def train_stage(plan: Plan, stage_name: str, *, preset: str) -> ArtifactRef:
    """Build (or reuse) ``stage_name`` of ``plan`` on every rank of this job; its published artifact."""
    pipeline, config = _pipeline_of(plan, stage_name)
    stage = next(s for s in pipeline.stages if s.name == stage_name)
    if not stage.worker:
        raise ValueError(
            f"stage {stage_name!r} does not train; `seqmask train` runs the training stages of a flow"
            " (see `seqmask run --dry-run`)"
        )
    init_fairseq2_runtime()
    with _gang() as gang:
        store = ArtifactStore()
        run_log = (
            RunLog(store.runs, flow=f"train {stage_name}", preset=preset, argv=sys.argv) if gang.rank == 0 else None
        )
        if gang.rank == 0:
            upstream = _upstream(
                plan, pipeline, stage, Runner(store, run_log=run_log)
            )  # may compute: the other ranks wait
        gang.barrier()
        if gang.rank > 0:
            upstream = _upstream(plan, pipeline, stage, Runner(store))  # all reused now
        try:
            ref = _build_everywhere(Runner(store, run_log=run_log, processes=gang.size), gang, stage, config, upstream)
        except BaseException:
            if run_log:
                run_log.finish("failed")
            raise
        if run_log:
            run_log.finish("completed")
        return ref


def _pipeline_of(plan: Plan, stage_name: str) -> tuple[Pipeline, Any]:
    for pipeline, config in plan:
        if stage_name in pipeline.stage_names():
            return pipeline, config
    trainable = sorted({s.name for pipeline, _ in plan for s in pipeline.stages if s.worker})
    raise ValueError(f"the flow has no stage {stage_name!r} (training stages: {', '.join(trainable)})")


@contextlib.contextmanager
def _gang() -> Iterator[Gang]:
    """The data-parallel gang of this job: a process group when ``torchrun`` started it, else fairseq2's fake gang."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        yield get_default_gangs(default_device()).dp
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    root = ProcessGroupGang.create_default_process_group(
        torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    )
    gangs = create_parallel_gangs(root)
    set_default_gangs(gangs)
    try:
        yield gangs.dp
    finally:
        gangs.close()


def _upstream(plan: Plan, pipeline: Pipeline, stage: Stage, runner: Runner) -> dict[str, Outcome]:
    """The outcomes of the stages ``stage`` reads (by role), each reused or built with ``runner`` in this process alone
    (fairseq2's fake gangs), ancestors first."""
    pipelines = {p.name: (p, config) for p, config in plan}
    done: dict[tuple[str, str], Outcome] = {}

    def outcome(pipeline_name: str, stage_name: str) -> Outcome | None:
        """The stage's outcome; None when it is not part of a run with this config (as in ``run_pipeline``)."""
        owner, config = pipelines[pipeline_name]
        if stage_name in owner.external:
            return outcome(*owner.external[stage_name])
        if (pipeline_name, stage_name) not in done:
            upstream = next(s for s in owner.stages if s.name == stage_name)
            done[pipeline_name, stage_name] = (
                runner.run(upstream, config, inputs_of(pipeline_name, upstream)) if upstream.enabled(config) else None
            )
        return done[pipeline_name, stage_name]

    def inputs_of(pipeline_name: str, reader: Stage) -> dict[str, Outcome]:
        found = {role: outcome(pipeline_name, name) for role, name in reader.inputs.items()}
        return {role: found_outcome for role, found_outcome in found.items() if found_outcome is not None}

    with create_fake_gangs(default_device()):
        return inputs_of(pipeline.name, stage)


def _build_everywhere(
    runner: Runner, gang: Gang, stage: Stage, config: Any, upstream: Mapping[str, Outcome]
) -> ArtifactRef:
    """Rank 0 runs the stage through the store (reuse or build and publish); the others build alongside into a
    temporary directory when rank 0 builds."""
    inputs = {role: outcome.ref for role, outcome in upstream.items()}
    key = runner.key(stage, config, inputs)
    building = torch.tensor([0 if runner.store.get(key) is not None else 1], device=gang.device)
    gang.broadcast(building, source_rank=0)
    if gang.rank == 0:
        ref = runner.run(stage, config, upstream).ref
    elif building.item():
        with tempfile.TemporaryDirectory(prefix=f"{stage.name}-rank{gang.rank}-") as out:
            stage.build(
                StageContext(
                    config=stage.config_of(config),
                    inputs=inputs,
                    out=Path(out),
                    executor=Executor(),
                    stage=stage.name,
                    scratch=runner.store.scratch_dir(key),
                )
            )
    gang.barrier()
    if gang.rank == 0:
        return ref
    return runner.store.ref(key)
