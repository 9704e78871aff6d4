"""Stage ``scores``: the scorer's frame confidences (20 ms) of every pretraining utterance, stored once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from safetensors.torch import save_file


from seqmask.files import write_json
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.speech.stages.inputs import PRETRAIN_SPLITS, utterances

if TYPE_CHECKING:
    from seqmask.speech.config import ScoresConfig
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``scores.safetensors`` (utterance id -> float16 ``(S,)``) and the mean confidence per source."""
    config: ScoresConfig = ctx.config["scores"]
    scorer = CtcScorer.load(ctx.input_path("scorer") / "model.pt")
    found = utterances(ctx, PRETRAIN_SPLITS, ctx.config["corpora"])
    scores = score_utterances(scorer, found, confidence=config.confidence, progress=ctx.step_progress("utterances"))
    save_file({uid: value.to(torch.float16).contiguous() for uid, value in scores.items()}, str(ctx.out / "scores.safetensors"))
    by_source: dict[str, list[float]] = {}
    for utterance in found:
        by_source.setdefault(utterance.source, []).append(float(scores[utterance.id].float().mean()))
    write_json(ctx.out / "summary.json", {f"mean_confidence_{s}": round(sum(v) / len(v), 4) for s, v in sorted(by_source.items())})
