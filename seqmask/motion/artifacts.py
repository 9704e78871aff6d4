"""The motion pipeline's artifacts by name: the roles a stage reads its inputs by and the files each stage leaves,
grouped by the stage that writes them (:mod:`seqmask.motion.readers` reads them). Imports nothing, so a stage's
key does not depend on the code that reads another stage's files."""

from __future__ import annotations

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
MODEL_FILE = "model.pt"
"""A trained model's checkpoint file, in its folder."""
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
