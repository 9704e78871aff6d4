"""The motion pipeline's artifacts: the roles a stage reads its inputs by, the files each stage leaves (grouped by the
stage that writes them) and the readers of every upstream file a stage reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqmask.files import read_json_object
from seqmask.motion.models import (
    MODEL_FILE,
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

# --- input roles -------------------------------------------------------------------------------

PREP, TEXT, EVALUATOR, MODEL = "prep", "text-encoder", "evaluator", "model"
"""Input roles: ``motion-prep``, ``motion-text-encoder``, ``motion-evaluator`` and a run's ``motion-train-<run>``."""
EVALUATE, RENDER = "motion-evaluate", "motion-render"
"""The report's roles of a run, ``<role>-<run>`` (:func:`run_role`): its ``motion-evaluate-<run>`` and its
``motion-render-<run>``."""


def run_role(role: str, run: str) -> str:
    """The report's role ``role`` (:data:`EVALUATE`, :data:`RENDER`) of run ``run``: the name of that run's stage."""
    return f"{role}-{run}"


# --- written by more than one stage ------------------------------------------------------------

SUMMARY = "summary.json"
"""Counts and totals worth showing in run reports (prep, the text encoder, the evaluator, a denoiser's training)."""
MODEL_DIR = "model"
"""The folder of a trained model's checkpoint (the text encoder, the evaluator, a denoiser)."""
MODEL_WEIGHTS = f"{MODEL_DIR}/{MODEL_FILE}"
"""The checkpoint in :data:`MODEL_DIR`."""
TRAINING_LOG = "metrics.jsonl"
"""What the shared training loop logs (:func:`seqmask.training.loop.train`)."""

# --- motion-prep -------------------------------------------------------------------------------

CLIPS = "clips.jsonl"
"""Every clip kept, with its labels and split."""
REJECTS = "rejects.jsonl"
"""Every clip left out, with why (:class:`seqmask.data.rejects.Reject`)."""
SKELETON = "skeleton.json"
"""Joints, parents, body parts and their feature columns, rate and window."""
SKELETON_BVH = "skeleton.bvh"
"""The clips' BVH hierarchy with one rest frame: what generated motions are exported onto."""
NORMALIZATION = "normalization.safetensors"
"""``mean`` and ``std`` ``(D,)`` of the training windows' real frames."""
WINDOWS = "windows"
"""The folder of every split's windows (:func:`window_tensors`, :func:`window_records`)."""


def window_tensors(split: str) -> str:
    """A split's ``features`` ``(N, T, D)`` (raw) and ``lengths`` ``(N,)``."""
    return f"{WINDOWS}/{split}.safetensors"


def window_records(split: str) -> str:
    """A split's window records (clip, start, length, labels), one per window."""
    return f"{WINDOWS}/{split}.jsonl"


# --- motion-evaluator --------------------------------------------------------------------------

REAL = "real.json"
"""Split -> what real windows score with the evaluator, the FID floors and caption counts."""

# --- motion-train-<run> ------------------------------------------------------------------------

TEXT_ENCODER_DIR = "text_encoder"
"""A copy of the text encoder's :data:`MODEL_DIR`: the artifact is self-contained for ``seqmask generate``."""
PREP_DIR = "prep"
"""Copies of :data:`PREP_COPIES`."""
PREP_COPIES = (SKELETON, NORMALIZATION, SKELETON_BVH)
"""What ``seqmask generate`` needs of ``motion-prep`` besides the models."""

# --- motion-evaluate-<run> ---------------------------------------------------------------------

METRICS = "metrics.json"
"""Split -> group (all, seen pair, unseen pair) -> FID (interval), R@1..3, MM-Dist, diversity; multimodality."""

# --- motion-render-<run> -----------------------------------------------------------------------

INDEX = "index.json"
"""Per rendered caption: the caption, the clip of its real window and its files by kind (:data:`RENDER_KINDS`)."""
GIF, PNG, BVH = "gif", "png", "bvh"
"""A rendered caption's files: a stick-figure GIF and a frame strip (real beside generated), the generated BVH."""
RENDER_KINDS = (GIF, PNG, BVH)


def render_file(caption: int, kind: str) -> str:
    """The file of kind ``kind`` (:data:`RENDER_KINDS`) of the ``caption``-th rendered caption."""
    return f"{caption}.{kind}"


# --- motion-report (besides seqmask.experiment.comparison.REPORT_FILES) ------------------------

FID_BY_RATIO = "fid_by_ratio.png"
"""Valid FID against the mask ratio, per masked kind, and the baseline."""
RENDERS = "renders"
"""Copies of the runs' renders, a folder per run."""

# --- readers -----------------------------------------------------------------------------------


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
