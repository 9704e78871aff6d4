"""Speech flows: ``speech-prep`` (corpora to shards), ``speech`` (Ask2Mask vs random, one seed), ``compare`` (all
variants, N seeds), ``study`` (a sweep of settings read on the validation split)."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.runtime import run_pipeline_flow
from seqmask.config import load_config, resolve_path
from seqmask.data.speech_prep import SPEECH_PREP
from seqmask.speech.stages import speech_pipeline
from seqmask.speech.study import DEFAULT_PLAN, load_study, point_configs, study_pipeline


@flow(name="speech-prep", log_prints=True)
def speech_prep(preset: str = "small", overrides: list[str] | None = None, from_stage: str | None = None) -> dict:
    """Manifests and 16 kHz shards for FSDD, LJSpeech, the espeak-ng corpus and a user corpus."""
    config = load_config(preset, overrides or [])
    outcomes = run_pipeline_flow(SPEECH_PREP, config, from_stage=from_stage)
    return {name: outcome.ref.to_dict() for name, outcome in outcomes.items()}


@flow(name="speech", log_prints=True)
def speech(preset: str = "small", overrides: list[str] | None = None, from_stage: str | None = None) -> dict:
    """speech-prep, scorer, scores, pretraining per masking variant, CTC fine-tuning and WER, one seed."""
    config = load_config(preset, overrides or [])
    pipeline = speech_pipeline(config, variants=config.speech.variants, seeds=(0,), name="speech")
    return _run_and_publish_tables(pipeline, config, from_stage)


@flow(name="compare", log_prints=True)
def compare(preset: str = "small", overrides: list[str] | None = None, from_stage: str | None = None) -> dict:
    """No pretraining / random / ask2mask / ask2mask+utt over N seeds at equal compute: one table and plots."""
    config = load_config(preset, overrides or [])
    pipeline = speech_pipeline(config, variants=config.speech.compare_variants, seeds=config.speech.seeds, name="compare")
    return _run_and_publish_tables(pipeline, config, from_stage)


@flow(name="study", log_prints=True)
def study(
    preset: str = "small", overrides: list[str] | None = None, from_stage: str | None = None,
    plan: str = DEFAULT_PLAN,
) -> dict:
    """Every point of the study plan (variants x seeds), then one table of the points on the validation split."""
    study_plan = load_study(resolve_path(plan))
    configs = point_configs(preset, overrides or [], study_plan)
    given = {}
    for point, config in configs.items():
        pipeline = speech_pipeline(config, variants=study_plan.variants, seeds=study_plan.seeds, name=f"study-{point}")
        outcomes = run_pipeline_flow(pipeline, config, from_stage=from_stage)
        given |= {f"report-{point}": outcomes["report"], f"scorer-{point}": outcomes["scorer"]}
    outcomes = run_pipeline_flow(study_pipeline(study_plan), load_config(preset, overrides or []), given=given)
    table = (outcomes["study"].ref.path / "study.md").read_text(encoding="utf-8")
    create_markdown_artifact(key="study", markdown=table, description=f"study {plan}: WER and CER per point on {study_plan.split}")
    return {name: outcome.ref.to_dict() for name, outcome in outcomes.items()}


def _run_and_publish_tables(pipeline, config, from_stage: str | None) -> dict:
    outcomes = run_pipeline_flow(pipeline, config, from_stage=from_stage)
    report = outcomes["report"].ref.path
    create_table_artifact(key=f"{pipeline.name}-wer", table=_wer_rows(report / "runs.json"), description=f"{pipeline.name}: WER per run and test set")
    return {name: outcome.ref.to_dict() for name, outcome in outcomes.items()}


def _wer_rows(runs_path: Path) -> list[dict]:
    rows = []
    for run in json.loads(runs_path.read_text(encoding="utf-8")):
        for group, metrics in run["results"].items():
            rows.append({"variant": run["variant"], "seed": run["seed"], "test set": group,
                         "WER %": round(100 * metrics["wer"], 2), "CER %": round(100 * metrics["cer"], 2)})
    return rows
