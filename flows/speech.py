"""Speech flows: ``speech-prep`` (corpora to shards), ``speech`` (Ask2Mask vs random, one seed), ``speech-compare``
(all variants, N seeds), ``speech-study`` (a sweep of settings read on the validation split).

Each takes the resolved config (``seqmask.config.to_dict``): the command line or the
deployment resolves presets and overrides once, and the flow runs exactly that.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import STAGE_THREADS, final_refs, run_plan_flow
from seqmask.app.root import experiment_from_dict
from seqmask.speech.pipeline import (
    speech_compare_plan,
    speech_plan,
    speech_prep_plan,
    speech_study_plan,
)


@flow(name="speech-prep", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def speech_prep(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """Manifests and 16 kHz shards for FSDD, LJSpeech, the espeak-ng corpus and a user corpus."""
    return final_refs(run_plan_flow(speech_prep_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="speech", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def speech(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """speech-prep, scorer, scores, pretraining per masking variant, CTC fine-tuning and WER, one seed."""
    return final_refs(run_plan_flow(speech_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="speech-compare", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def speech_compare(config: dict[str, Any], from_stage: str | None = None) -> dict:
    """No pretraining / random / ask2mask / ask2mask+utt over N seeds at equal compute: one table and plots."""
    return final_refs(run_plan_flow(speech_compare_plan(experiment_from_dict(config)), from_stage=from_stage))


@flow(name="speech-study", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=STAGE_THREADS))
def speech_study(config: dict[str, Any], plan: dict[str, Any], from_stage: str | None = None) -> dict:
    """Every point of the study plan (variants x seeds), then one table of the points on the validation split."""
    return final_refs(run_plan_flow(speech_study_plan(experiment_from_dict(config), plan), from_stage=from_stage))
