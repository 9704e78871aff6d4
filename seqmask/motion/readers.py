"""Reading the motion pipeline's artifacts: a stage's upstream files by role, through the names in
:mod:`seqmask.motion.artifacts`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqmask.files import read_json_object
from seqmask.motion.artifacts import (
    EVALUATE,
    EVALUATOR,
    INDEX,
    METRICS,
    MODEL,
    MODEL_DIR,
    NORMALIZATION,
    PREP,
    REAL,
    RENDER,
    SKELETON,
    TEXT,
    run_role,
    window_records,
    window_tensors,
)
from seqmask.motion.models import (
    SentenceEncoder,
    TrainedDenoiser,
    load_denoiser,
    load_evaluator,
    load_text_encoder,
)
from seqmask.motion.windows import Normalizer, Skeleton, Windows, load_windows

if TYPE_CHECKING:
    from seqmask.motion.captions import WordVocabulary
    from seqmask.motion.encoders import TextMotionModel
    from seqmask.stage import StageContext


def read_skeleton(prep: Path) -> Skeleton:
    """The skeleton of a folder laid out like ``motion-prep`` (or a denoiser's :data:`PREP_DIR`)."""
    return Skeleton.load(prep / SKELETON)


def read_normalizer(prep: Path) -> Normalizer:
    """The training statistics of a folder laid out like ``motion-prep`` (or a denoiser's :data:`PREP_DIR`)."""
    return Normalizer.load(prep / NORMALIZATION)


def read_windows(prep: Path, split: str) -> Windows:
    """Split ``split`` of a ``motion-prep`` artifact, normalised with the training statistics."""
    return load_windows(prep / window_tensors(split), prep / window_records(split), read_normalizer(prep))


def skeleton(ctx: StageContext) -> Skeleton:
    return read_skeleton(ctx.input_path(PREP))


def windows(ctx: StageContext, split: str) -> Windows:
    return read_windows(ctx.input_path(PREP), split)


def normalizer(ctx: StageContext) -> Normalizer:
    return read_normalizer(ctx.input_path(PREP))


def prep_file(ctx: StageContext, name: str) -> Path:
    """The path of ``motion-prep``'s file ``name`` (one of :data:`PREP_COPIES`), to copy or export onto."""
    return ctx.input_path(PREP) / name


def text_encoder_folder(ctx: StageContext) -> Path:
    """The text encoder's :data:`MODEL_DIR`, to copy."""
    return ctx.input_path(TEXT) / MODEL_DIR


def text_encoder(ctx: StageContext) -> SentenceEncoder:
    return load_text_encoder(text_encoder_folder(ctx), skeleton(ctx).features)


def evaluator(ctx: StageContext) -> tuple[TextMotionModel, WordVocabulary]:
    return load_evaluator(ctx.input_path(EVALUATOR) / MODEL_DIR, skeleton(ctx))


def real_scores(ctx: StageContext) -> dict[str, Any]:
    """The evaluator's :data:`REAL`."""
    return read_json_object(ctx.input_path(EVALUATOR) / REAL)


def denoiser(ctx: StageContext) -> TrainedDenoiser:
    return load_denoiser(ctx.input_path(MODEL) / MODEL_DIR, skeleton(ctx), text=text_encoder(ctx).identity)


def run_metrics(ctx: StageContext, run: str) -> dict[str, Any]:
    """Run ``run``'s :data:`METRICS` (role ``motion-evaluate-<run>``)."""
    return read_json_object(ctx.input_path(run_role(EVALUATE, run)) / METRICS)


def run_renders(ctx: StageContext, run: str) -> Path | None:
    """The folder of run ``run``'s renders (role ``motion-render-<run>``); None for a run not rendered."""
    role = run_role(RENDER, run)
    return ctx.input_path(role) if role in ctx.inputs else None


def render_index(renders: Path) -> list[dict[str, Any]]:
    """The :data:`INDEX` of a ``motion-render-<run>`` artifact."""
    return json.loads((renders / INDEX).read_text(encoding="utf-8"))
