"""The text pipeline's artifacts by name: the roles a stage reads its inputs by and the files each stage leaves,
grouped by the stage that writes them (:mod:`seqmask.text.readers` reads them). Imports nothing of the project, so a
stage's key does not depend on the code that reads another stage's files."""

from __future__ import annotations

from pathlib import Path

# --- input roles -------------------------------------------------------------------------------

CORPUS, TOKENIZER, TAGGERS, TAG, BASE, ENCODER = "corpus", "tokenizer", "taggers", "tag", "base", "model"
"""Input roles: ``text-prep``, ``text-tokenizer``, ``text-taggers``, ``text-tag``, ``text-base`` and the encoder a
``text-mine-<model>`` stage mines with."""
NGRAMS_MINED, UNTRAINED_MINED, BASE_MINED = "text-ngrams", "text-mine-untrained", "text-mine-base"
"""The report's roles of the fixed rows: the n-gram floor, the base's random initialisation and the base."""
CONTINUAL, MINED = "text-continual", "text-mine"
"""The report's roles of a run, ``<role>-<run>`` (:func:`run_role`): its ``text-continual-<run>`` and the
``text-mine-<run>`` and ``text-mine-<run>-mlm-phase`` of its encoders."""
MLM_PHASE_MINED = "mlm-phase"
"""What follows a run's name in the role of the mining of its MLM phase's encoder."""


def run_role(role: str, run: str) -> str:
    """The report's role ``role`` (:data:`CONTINUAL`, :data:`MINED`) of run ``run`` (or ``<run>-mlm-phase``): the name
    of that stage."""
    return f"{role}-{run}"


# --- written by more than one stage ------------------------------------------------------------

SUMMARY_JSON = "summary.json"
"""Counts and measurements worth showing in run reports (every stage but the mining and the report)."""
MODEL = "model"
"""The folder of an encoder (``text-base``, ``text-continual-<run>`` after TLM): a Hugging Face directory with its
sentencepiece model and :data:`LANGUAGES` (:func:`seqmask.text.model.save_encoder`); a trained tagger's folder too."""
METRICS = "metrics.jsonl"
"""What the shared training loop logs (:func:`seqmask.training.loop.train`)."""
LANGUAGES = "languages.json"
"""The language of each language id, in id order (``text-tokenizer``, and in each encoder's folder)."""
MINING = "mining.json"
"""Split -> pair set -> scoring -> direction (``eng→sin``) -> xSIM error %, P@1 %, pairs (``text-mine-<model>``,
``text-ngrams``)."""

# --- text-prep ---------------------------------------------------------------------------------

MONOLINGUAL = "monolingual.jsonl"
"""The training sentences (:class:`seqmask.text.prep.Sentence`)."""
PARALLEL = "parallel.jsonl"
"""The training pairs (:class:`seqmask.data.bitext.Pair`)."""
MINING_SETS = "mining"
"""The folder of the mining pair sets, ``<split>/<pair>.jsonl`` (:func:`mining_set_file`), of each of
:data:`MINING_SPLITS`."""
MINING_SPLITS = ("valid", "test")
"""The splits of the mining sets: settings are chosen on ``valid``; ``test`` is what the gates and tables read."""
REJECTS = "rejects.jsonl"
"""Every line left out, with why (:class:`seqmask.data.rejects.Reject`)."""


def mining_set_file(corpus: Path, split: str, name: str) -> Path:
    """The pairs of mining set ``name`` (``eng-sin``, ...) of split ``split`` (``valid``, ``test``) in a ``text-prep``
    artifact."""
    return corpus / MINING_SETS / split / f"{name}.jsonl"


# --- text-tokenizer ----------------------------------------------------------------------------

TOKENIZER_MODEL = "spm.model"
"""The sentencepiece model trained here or given; an XLM-R's keeps its name
(:data:`seqmask.text.tokenizer.XLMR_MODEL_FILE`)."""

# --- text-taggers ------------------------------------------------------------------------------

TAGGER_SOURCES = "taggers.json"
"""Language -> ``{"pipeline": name_or_dir}`` or ``{"trained": folder of the artifact}`` (``<language>/model``)."""

# --- text-tag ----------------------------------------------------------------------------------

TAGS = "tags.jsonl"
"""Rows ``{"language", "text", "words": [[start, end, kind, entity], ...]}``."""

# --- text-base ---------------------------------------------------------------------------------

UNTRAINED_MODEL = "untrained"
"""The random initialisation of an encoder trained here, laid out as :data:`MODEL`."""

# --- text-continual-<run> ----------------------------------------------------------------------

MLM_MODEL = "mlm_model"
"""The encoder after the MLM phase, laid out as :data:`MODEL`."""
MLM_PHASE, TLM_PHASE = "mlm", "tlm"
"""The folders of each phase's :data:`METRICS`."""

# --- text-report (besides seqmask.experiment.comparison.REPORT_FILES) --------------------------

XSIM_PLOT = "xsim.png"
"""Test xSIM error per direction: each fixed row, and each strategy's mean and std over seeds."""
MASKS = "masks.md"
"""A few training sentences and the pieces each strategy masks in them."""
