"""Speech flows: ``speech-prep`` (corpora to manifests and shards)."""

from __future__ import annotations

from prefect import flow

from flows.runtime import run_pipeline_flow
from seqmask.config import load_config
from seqmask.data.speech_prep import SPEECH_PREP


@flow(name="speech-prep", log_prints=True)
def speech_prep(preset: str = "small", overrides: list[str] | None = None, from_stage: str | None = None) -> dict:
    """Manifests and 16 kHz shards for FSDD, LJSpeech, the espeak-ng corpus and a user corpus."""
    config = load_config(preset, overrides or [])
    outcomes = run_pipeline_flow(SPEECH_PREP, config, from_stage=from_stage)
    return {name: outcome.ref.to_dict() for name, outcome in outcomes.items()}
