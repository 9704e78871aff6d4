"""``pipeline``: the speech, text and motion main jobs in one flow run (what a nightly deployment runs).

It takes the resolved config (``seqmask.config.to_dict``), as every flow does; each of the three pipelines publishes
its own report and table artifacts.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import STAGE_THREADS, final_refs, run_plan_flow
from seqmask.app.pipeline import pipeline_plan
from seqmask.app.root import experiment_from_dict


@flow(name="pipeline", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def pipeline(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """speech, text and motion at seed 0: every stage of the three, independent ones side by side."""
    return final_refs(run_plan_flow(pipeline_plan(experiment_from_dict(config)), from_stage=from_stage))
