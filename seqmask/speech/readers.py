"""Reading the speech pipeline's artifacts through the names in :mod:`seqmask.speech.artifacts`: manifests, rejects
and the JSON a later stage reads, and where the binary files are (checkpoints, scores), for the model code to load.

Imports no feature or model code, so the corpus stages that read an upstream manifest do not have it in their keys;
the utterances with their filterbanks are :mod:`seqmask.speech.utterances`'.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqmask.data.manifest import AudioRecord, RawAudio
from seqmask.data.rejects import Reject
from seqmask.files import read_jsonl
from seqmask.speech.artifacts import (
    FEATURE_INDEX,
    LABELLED,
    MANIFEST,
    METRICS,
    MODEL,
    RAW,
    REJECTS,
    RUNS,
    SCORES,
    SUMMARY_JSON,
    WER,
    split_manifest,
)


def read_manifest(corpus: Path) -> list[AudioRecord]:
    """The records a corpus stage kept."""
    return read_jsonl(corpus / MANIFEST, AudioRecord)


def read_rejects(artifact: Path) -> list[Reject]:
    """What a corpus stage or ``speech-splits`` left out."""
    return read_jsonl(artifact / REJECTS, Reject)


def read_raw(synth: Path) -> list[RawAudio]:
    """The records of a ``speech-espeak-synth`` artifact, their audio paths resolved against it."""
    raw = read_jsonl(synth / RAW, RawAudio)
    return [dataclasses.replace(record, audio=str(synth / record.audio)) for record in raw]


def records(splits_dir: Path, splits: Sequence[str], corpora: Sequence[str] | None = None) -> list[AudioRecord]:
    """The records of ``splits`` (of ``corpora`` only, when given) of a ``speech-splits`` artifact, split by split."""
    found = [record for split in splits for record in read_jsonl(splits_dir / split_manifest(split), AudioRecord)]
    return found if corpora is None else [record for record in found if record.source in corpora]


def read_feature_index(features: Path) -> dict[str, str]:
    """Utterance id -> feature shard (relative to the artifact) of a ``speech-features`` artifact."""
    return json.loads((features / FEATURE_INDEX).read_text(encoding="utf-8"))


def read_labelled_ids(labelled: Path) -> set[str]:
    """The ids a ``speech-labelled`` artifact kept."""
    return {json.loads(line)["id"] for line in (labelled / LABELLED).read_text(encoding="utf-8").splitlines()}


def model_file(artifact: Path) -> Path:
    """The checkpoint of a ``speech-scorer``, ``speech-pretrain-<run>`` or ``speech-finetune-<run>`` artifact."""
    return artifact / MODEL


def metrics_file(artifact: Path) -> Path:
    """The training metrics of a ``speech-pretrain-<run>`` or ``speech-finetune-<run>`` artifact."""
    return artifact / METRICS


def scores_file(scores: Path) -> Path:
    """The frame confidences of a ``speech-scores`` artifact."""
    return scores / SCORES


def read_wer(evaluation: Path) -> dict[str, Any]:
    """The error rates of a ``speech-evaluate-<run>`` artifact, by group."""
    return json.loads((evaluation / WER).read_text(encoding="utf-8"))


def read_runs(report: Path) -> list[dict[str, Any]]:
    """Every run of a ``speech-report`` artifact: its variant, seed and results."""
    return json.loads((report / RUNS).read_text(encoding="utf-8"))


def read_summary(artifact: Path) -> dict[str, Any]:
    """A stage's counts and totals (a ``speech-scorer`` artifact's: its steps and valid WER/CER)."""
    return json.loads((artifact / SUMMARY_JSON).read_text(encoding="utf-8"))
