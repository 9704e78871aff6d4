"""The speech pipeline's artifacts by name: the roles a stage reads each run's stages by and the files each stage
leaves, grouped by the stage that writes them (:mod:`seqmask.speech.readers` reads them). Imports nothing, so a
stage's key does not depend on the code that reads another stage's files."""

from __future__ import annotations

# --- input roles of a run's stages ------------------------------------------------------------------------------

EVALUATE, PRETRAIN = "speech-evaluate", "speech-pretrain"
"""The report's roles of a run, ``<role>-<run>`` (:func:`run_role`): its ``speech-evaluate-<run>`` (a reference's
too, ``speech-evaluate-reference-<corpus>``) and, when it pretrains, its ``speech-pretrain-<run>``."""
POINT_REPORT, POINT_SCORER = "speech-report", "speech-scorer"
"""The study's roles of a point, ``<role>-<point>`` (:func:`run_role`): that point's ``speech-report`` and
``speech-scorer``."""


def run_role(role: str, run: str) -> str:
    """The role ``role`` of run ``run`` (or ``reference-<corpus>``, or a study point): the name of that run's stage."""
    return f"{role}-{run}"


# --- written by more than one stage -----------------------------------------------------------------------------

SUMMARY_JSON = "summary.json"
"""Counts and totals worth showing in run reports (every stage but the synthesis, the report and the study)."""
SHARDS = "shards"
"""Folder of 16 kHz int16 audio shards (safetensors) of a corpus stage and of ``speech-splits`` (one folder per
corpus there); a record's ``shard`` is relative to its artifact."""
REJECTS = "rejects.jsonl"
"""What a corpus stage left out (:class:`seqmask.data.rejects.Reject`), one a line; ``speech-splits`` gathers every
corpus's and adds its own."""
MODEL = "model.pt"
"""The checkpoint of ``speech-scorer`` (trained, or the one given), ``speech-pretrain-<run>`` and
``speech-finetune-<run>``."""
METRICS = "metrics.jsonl"
"""What the shared training loop logs (:func:`seqmask.training.loop.train`): pretraining, fine-tuning, a trained
scorer."""

# --- speech-fsdd, speech-ljspeech, speech-espeak, speech-user ---------------------------------------------------

MANIFEST = "manifest.jsonl"
"""A corpus's kept records (:class:`seqmask.data.manifest.AudioRecord`), one a line."""

# --- speech-espeak-synth ----------------------------------------------------------------------------------------

AUDIO = "audio"
"""Folder of the synthesized FLAC files."""
RAW = "raw.jsonl"
"""The synthesized records (:class:`seqmask.data.manifest.RawAudio`), their audio relative to the artifact."""

# --- speech-splits ----------------------------------------------------------------------------------------------

MANIFESTS = "manifests"
"""Folder of one manifest per split (:func:`split_manifest`)."""
SPLITS_TABLE = "summary.md"
"""Utterances and hours per source and split, and rejects per reason (what ``seqmask run speech-prep`` prints)."""


def split_manifest(split: str) -> str:
    """The manifest of ``split``'s records over every corpus."""
    return f"{MANIFESTS}/{split}.jsonl"


# --- speech-features --------------------------------------------------------------------------------------------

FEATS = "feats"
"""Folder of float16 filterbank shards (safetensors), one per audio shard."""
FEATURE_INDEX = "index.json"
"""Utterance id -> its feature shard, relative to the artifact."""

# --- speech-labelled --------------------------------------------------------------------------------------------

LABELLED = "labelled.jsonl"
"""The labelled target subset: id, speaker, source, seconds and text per utterance."""

# --- speech-scores ----------------------------------------------------------------------------------------------

SCORES = "scores.safetensors"
"""Utterance id -> float16 ``(S,)`` frame confidences at the encoder rate."""

# --- speech-evaluate-<run> --------------------------------------------------------------------------------------

WER = "wer.json"
"""WER and CER per split, per split/source, and ``all`` over the test splits."""
HYPOTHESES = "hypotheses.jsonl"
"""id, group, reference and hypothesis per utterance."""
WER_TABLE = "wer.md"
"""The run's WER table."""

# --- speech-report (besides the report contract, seqmask.experiment.comparison.REPORT_FILES) ---------------------

RUNS = "runs.json"
"""Every run's variant, seed and results."""
LOSS_PLOT = "pretrain_loss.png"
"""Pretraining loss curves, when a run pretrains."""
MASKS_PLOT = "masks.png"
"""The random and the Ask2Mask mask of one utterance on its spectrogram."""

# --- speech-study -----------------------------------------------------------------------------------------------

STUDY_TABLE = "study.md"
"""One table of every study point (also the study's summary)."""
STUDY_RESULTS = "study.json"
"""Every point's runs and scorer summary."""
