"""Motion flows: ``motion-prep`` (BVH clips to windows), ``motion`` (MDM vs MMDM-t vs MMDM-b, one seed),
``motion-compare`` (every mask, N seeds, and the mask-ratio study).

Each takes the resolved config (``seqmask.config.to_dict``), as the speech and text flows do.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import STAGE_THREADS, final_refs, run_plan_flow
from seqmask.app.root import experiment_from_dict
from seqmask.motion.pipeline import motion_compare_plan, motion_plan, motion_prep_plan


@flow(name="motion-prep", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def motion_prep(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """BVH clips read on Dask: joint positions at 20 fps, clip-level splits, windows, statistics; rejects with
    reasons."""
    return final_refs(run_plan_flow(motion_prep_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="motion", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def motion(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """motion-prep, text encoder, evaluator, a denoiser per mask (seed 0), FID / R-precision / diversity, renders,
    report."""
    return final_refs(run_plan_flow(motion_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="motion-compare", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def motion_compare(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """none / time / body over N seeds and the masked kinds at the study ratios: mean ± std tables, FID by mask
    ratio."""
    return final_refs(run_plan_flow(motion_compare_plan(experiment_from_dict(config)), from_stage=from_stage))
