"""Text flows: ``text-prep`` (corpora to sentences and pairs), ``text`` (LEM vs MLM+TLM, one seed), ``text-compare``
(every strategy, N seeds).

Each takes the resolved config (``seqmask.config.to_dict``), as the speech flows do.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import STAGE_THREADS, final_refs, run_plan_flow
from seqmask.app.root import experiment_from_dict
from seqmask.text.pipeline import text_compare_plan, text_plan, text_prep_plan


@flow(name="text-prep", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def text_prep(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """Cleaned, deduplicated sentences and pairs; mining sets kept out of all pretraining text; rejects with reasons."""
    return final_refs(run_plan_flow(text_prep_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="text", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def text(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """text-prep, tokenizer, taggers and tags, base encoder, MLM+TLM and LEM continual pretraining, mining, one seed."""
    return final_refs(run_plan_flow(text_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="text-compare", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def text_compare(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """Base only / MLM+TLM / LEM over N seeds at equal steps: one table per scoring and split, a plot, the masking
    page."""
    return final_refs(run_plan_flow(text_compare_plan(experiment_from_dict(config)), from_stage=from_stage))
