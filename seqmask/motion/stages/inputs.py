"""Reading a motion stage's inputs by role: ``prep`` (windows, skeleton, statistics), ``text-encoder``, ``evaluator``
and a trained ``model``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqmask.motion.models import SentenceEncoder, TrainedDenoiser, load_denoiser, load_evaluator, load_text_encoder
from seqmask.motion.windows import Normalizer, Skeleton, Windows, load_windows

if TYPE_CHECKING:
    from seqmask.motion.captions import WordVocabulary
    from seqmask.motion.encoders import TextMotionModel
    from seqmask.stage import StageContext

PREP, TEXT, EVALUATOR, MODEL = "prep", "text-encoder", "evaluator", "model"
"""Input roles."""


def skeleton(ctx: StageContext) -> Skeleton:
    return Skeleton.load(ctx.input_path(PREP))


def windows(ctx: StageContext, split: str) -> Windows:
    return load_windows(ctx.input_path(PREP), split)


def normalizer(ctx: StageContext) -> Normalizer:
    return Normalizer.load(ctx.input_path(PREP))


def text_encoder(ctx: StageContext) -> SentenceEncoder:
    return load_text_encoder(ctx.input_path(TEXT) / "model", skeleton(ctx).features)


def evaluator(ctx: StageContext) -> tuple[TextMotionModel, WordVocabulary]:
    return load_evaluator(ctx.input_path(EVALUATOR) / "model", skeleton(ctx))


def denoiser(ctx: StageContext) -> TrainedDenoiser:
    return load_denoiser(ctx.input_path(MODEL) / "model", skeleton(ctx), text=text_encoder(ctx).identity)
