"""Prefect glue shared by every flow: a plan's stages as tasks, one Dask client, run records and reports.

A stage task's Prefect cache key is derived from the artifact store key (plus the
store location and the artifact's digest), offered only when the store holds a
verified artifact for it; a corrupt or missing artifact gives no key, so the task
runs and the runner rebuilds. Task results are ``Outcome``s, which hold an artifact
reference, never tensors. Each pipeline run gets a record (``seqmask status``), a
markdown summary artifact, and its last stage's ``summary.md``, ``table.json`` and PNG
plots as report, table and plots artifacts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from distributed import Client
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import get_run_context
from prefect.futures import PrefectFuture

from seqmask.executor import Executor, OrchestrationConfig, local_cluster
from seqmask.experiment.comparison import SUMMARY, TABLE
from seqmask.fairseq2_runtime import Fairseq2WorkerPlugin, init_fairseq2_runtime
from seqmask.runlog import RunLog
from seqmask.stage import (
    Outcome,
    Pipeline,
    Plan,
    Runner,
    Stage,
    StageFailed,
    forced,
    run_pipeline,
    run_plan,
)
from seqmask.store import ArtifactStore

STAGE_THREADS = 32
"""Stage tasks of a flow alive at once, each in a thread of the flow process: a task waits there for the stages it
reads, then runs; those that train wait on a Dask worker (one per worker at a time, by priority), the others (maps,
decoding, reports) are short."""
MAX_PLOT_BYTES = 2_000_000
"""A report's PNG plots up to this size are shown in the Prefect UI (embedded in a markdown artifact)."""
TRANSIENT_ERRORS = (OSError, TimeoutError, ConnectionError)
"""Errors worth a retry (I/O, a lost Dask worker); anything else fails at once."""


@contextlib.contextmanager
def dask_client(settings: OrchestrationConfig) -> Iterator[Client]:
    """A client of the scheduler at ``dask_address``, or of a fresh LocalCluster.

    Not the default client of any context: stages in several threads share it, and it is
    made in whichever asks first and closed in the flow's own thread. Every worker sets fairseq2 up as it joins.
    """
    with contextlib.ExitStack() as stack:
        address = settings.dask_address or stack.enter_context(local_cluster(settings.dask_workers))
        client = Client(address, set_as_default=False)
        stack.callback(client.close)
        client.register_plugin(Fairseq2WorkerPlugin())
        yield client


def _connect(stack: contextlib.ExitStack, settings: OrchestrationConfig) -> Client:
    client = stack.enter_context(dask_client(settings))
    get_run_logger().info("Dask scheduler %s", client.scheduler.address)
    return client


def _is_transient(error: BaseException) -> bool:
    cause = error.error if isinstance(error, StageFailed) else error
    return isinstance(cause, TRANSIENT_ERRORS) or type(cause).__name__ == "KilledWorker"


def _retry_if_transient(task_, task_run, state) -> bool:
    try:
        state.result()
    except Exception as err:  # the failed task's exception
        return _is_transient(err)
    return False


class ProgressReporter:
    """Mirrors progress (maps and long stage work) into one Prefect progress artifact per description."""

    def __init__(self, min_interval: float = 1.0) -> None:
        self.min_interval = min_interval
        self.artifacts: dict[str, Any] = {}
        self.last_update = 0.0

    def __call__(self, desc: str, done: int, total: int) -> None:
        percent = 100.0 * done / max(total, 1)
        if desc not in self.artifacts:
            self.artifacts[desc] = create_progress_artifact(progress=percent, description=desc)
            self.last_update = time.monotonic()
        elif done == total or time.monotonic() - self.last_update >= self.min_interval:
            update_progress_artifact(self.artifacts[desc], progress=percent)
            self.last_update = time.monotonic()


def _stage_task(runner: Runner, stage: Stage, config: Any, settings: OrchestrationConfig):
    def run_stage(inputs: dict[str, Outcome]) -> Outcome:
        return runner.run(stage, config, inputs)

    return task(
        run_stage,
        name=stage.name,
        task_run_name=stage.name,
        cache_key_fn=lambda context, parameters: runner.reusable_key(
            stage, config, {role: outcome.ref for role, outcome in parameters["inputs"].items()}
        ),
        retries=settings.retries,
        retry_delay_seconds=settings.retry_delay_seconds,
        retry_condition_fn=_retry_if_transient,
    )


def run_plan_flow(plan: Plan, *, from_stage: str | None = None) -> dict[str, dict[str, Outcome]]:
    """Run every pipeline of ``plan`` inside the current flow run; outcomes by pipeline.

    Each stage is a Prefect task, submitted as soon as the stages it reads are submitted:
    the flow's task runner starts it when they are done, so independent stages (two
    trainings, which run on the Dask workers) run side by side.
    """
    init_fairseq2_runtime()  # here, before stage tasks use fairseq2 from the task runner's threads
    logger = get_run_logger()
    store = ArtifactStore()
    settings = plan[0][1].orchestration
    reporter = ProgressReporter()
    flow_run_id = str(get_run_context().flow_run.id)
    logger.info("artifact store %s", store.root)
    with contextlib.ExitStack() as dask:
        executor = Executor(connect=lambda: _connect(dask, settings), on_progress=reporter)

        def run_one(pipeline: Pipeline, config: Any, given: Mapping[str, Outcome]) -> dict[str, Outcome]:
            run_log = RunLog(
                store.runs, flow=pipeline.name, preset=config.preset, argv=sys.argv, orchestrator_run_id=flow_run_id
            )
            runner = Runner(
                store, executor=executor, run_log=run_log, force=forced(pipeline, from_stage), progress=reporter
            )
            submitted: dict[str, tuple[Stage, PrefectFuture, float]] = {}

            def submit(stage: Stage, stage_config: Any, upstream: Mapping[str, Any]) -> PrefectFuture:
                future = _stage_task(runner, stage, stage_config, settings).submit(
                    dict(upstream)
                )  # Prefect resolves the futures
                submitted[stage.name] = (stage, future, time.perf_counter())
                return future

            try:
                run_pipeline(pipeline, config, submit, given=given)
                outcomes = {
                    name: _outcome(runner, stage, future, started, logger)
                    for name, (stage, future, started) in submitted.items()
                }
            except BaseException:
                run_log.finish("failed")
                raise
            run_log.finish("completed")
            _publish(pipeline, outcomes)
            return outcomes

        return run_plan(plan, run_one)


def _outcome(runner: Runner, stage: Stage, future: PrefectFuture, started: float, logger: Any) -> Outcome:
    """Wait for a stage's task; its outcome (raises the stage's error when it failed)."""
    outcome = future.result()
    if future.state.name == "Cached":  # answered from Prefect's cache of the runner's keys: record it as reused
        outcome = runner.record_reused(stage, outcome, time.perf_counter() - started)
    logger.info(
        "stage %s: %s artifact %s (%.2f s)",
        stage.name,
        "reused" if outcome.reused else "computed",
        outcome.ref.key[:12],
        outcome.seconds,
    )
    return outcome


def _publish(pipeline: Pipeline, outcomes: Mapping[str, Outcome]) -> None:
    """The run's stage table, and the last stage's report and table, as Prefect artifacts."""
    create_markdown_artifact(
        key=f"{pipeline.name}-summary", markdown=run_report(pipeline, outcomes), description=f"{pipeline.name} stages"
    )
    last = list(outcomes.values())[-1].ref.path
    if (last / SUMMARY).is_file():
        create_markdown_artifact(
            key=f"{pipeline.name}-report",
            markdown=(last / SUMMARY).read_text(encoding="utf-8"),
            description=f"{pipeline.name} report",
        )
    if (last / TABLE).is_file():
        table = json.loads((last / TABLE).read_text(encoding="utf-8"))
        create_table_artifact(key=f"{pipeline.name}-table", table=table, description=f"{pipeline.name} results")
    plots = [path for path in sorted(last.glob("*.png")) if path.stat().st_size <= MAX_PLOT_BYTES]
    if plots:
        create_markdown_artifact(
            key=f"{pipeline.name}-plots", markdown=plots_markdown(plots), description=f"{pipeline.name} plots"
        )


def plots_markdown(paths: Sequence[Path]) -> str:
    """Markdown showing each PNG inline (a data URI: the UI needs no access to the store), under its file name."""
    return (
        "\n\n".join(
            f"**{path.name}**\n\n![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
            for path in paths
        )
        + "\n"
    )


def run_report(pipeline: Pipeline, outcomes: Mapping[str, Outcome]) -> str:
    """Markdown table of the stages of one run: state, time, artifact and summary."""
    lines = [f"# {pipeline.name}", "", "| stage | state | seconds | artifact | summary |", "|---|---|---|---|---|"]
    for name, outcome in outcomes.items():
        summary = ", ".join(f"{k}: {v}" for k, v in outcome.summary.items())
        state = "reused" if outcome.reused else "computed"
        lines.append(f"| {name} | {state} | {outcome.seconds:.2f} | `{outcome.ref.key[:12]}` | {summary} |")
    return "\n".join(lines) + "\n"


def final_refs(outcomes: Mapping[str, Mapping[str, Outcome]]) -> dict[str, dict[str, str]]:
    """A flow's return value: the artifact references of its last pipeline, by stage (small and JSON-able)."""
    last = list(outcomes.values())[-1]
    return {name: outcome.ref.to_dict() for name, outcome in last.items()}
