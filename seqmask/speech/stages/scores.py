"""Stage ``speech-scores``: the scorer's frame confidences (20 ms) of every pretraining utterance, stored once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from safetensors.torch import save_file

from seqmask.files import write_json
from seqmask.speech import artifacts, readers
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.speech.utterances import PRETRAIN_SPLITS, utterances

if TYPE_CHECKING:
    from seqmask.speech.config import ScoresConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "scorer")
WRITES = (artifacts.SCORES, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """How confidences are read off the scorer, and whose audio is scored."""

    scores: ScoresConfig
    """The confidence (``speech.scores``)."""
    corpora: tuple[str, ...]
    """The pretraining corpora (``speech.data.pretrain``)."""


def build(ctx: StageContext) -> None:
    """The scores (utterance id -> float16 ``(S,)``) and the mean confidence per source."""
    scorer = CtcScorer.load(readers.model_file(ctx.input_path("scorer")))
    found = utterances(ctx, PRETRAIN_SPLITS, ctx.config.corpora)
    confidence = ctx.config.scores.confidence
    scores = score_utterances(scorer, found, confidence=confidence, progress=ctx.step_progress("utterances"))
    stored = {uid: value.to(torch.float16).contiguous() for uid, value in scores.items()}  # id -> (S,)
    save_file(stored, str(ctx.out / artifacts.SCORES))
    by_source: dict[str, list[float]] = {}
    for utterance in found:
        by_source.setdefault(utterance.source, []).append(float(scores[utterance.id].float().mean()))
    means = {f"mean_confidence_{s}": round(sum(v) / len(v), 4) for s, v in sorted(by_source.items())}
    write_json(ctx.out / artifacts.SUMMARY_JSON, means)
