"""Stages ``speech-pretrain-<variant>-s<seed>``: wav2vec 2.0 pretraining of one masking variant on the pretraining
corpora's audio (train and unlabelled splits, text ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from safetensors.torch import load_file

from seqmask.files import write_json
from seqmask.speech import artifacts, readers
from seqmask.speech.features import encoder_frames_in
from seqmask.speech.packing import pack_short_utterances
from seqmask.speech.pretrain import pretrain
from seqmask.speech.utterances import PRETRAIN_SPLITS, utterances
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.speech.config import EncoderConfig, PretrainConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "scores")
WRITES = (artifacts.MODEL, artifacts.METRICS, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """One variant's pretraining: its masker, the encoder and the audio it reads."""

    variant: str
    """The masker: ``random``, ``ask2mask`` or ``ask2mask+utt``."""
    pretrain: PretrainConfig
    """The variant's pretraining, seed offset by the run's (``speech.pretrain``)."""
    encoder: EncoderConfig
    """The encoder (``speech.encoder``)."""
    pack_seconds: float
    """Short utterances of one speaker are packed up to this length (``speech.pack_seconds``)."""
    corpora: tuple[str, ...]
    """The pretraining corpora (``speech.data.pretrain``)."""


def build(ctx: StageContext) -> None:
    """The pretrained checkpoint and its training metrics; Ask2Mask variants read the ``scores`` input."""
    config, variant = ctx.config.pretrain, ctx.config.variant
    found = utterances(ctx, PRETRAIN_SPLITS, ctx.config.corpora)
    scores = None
    if variant != "random":
        scores = {k: v.float() for k, v in load_file(str(readers.scores_file(ctx.input_path("scores")))).items()}
    found, scores = pack_short_utterances(found, scores, min_encoder_frames=encoder_frames_in(ctx.config.pack_seconds))
    summary = pretrain(
        config,
        ctx.config.encoder,
        variant,
        found,
        scores,
        out_dir=ctx.out,
        work_dir=ctx.scratch,
        device=default_device(),
        progress=ctx.step_progress("steps"),
    )
    write_json(ctx.out / artifacts.SUMMARY_JSON, summary)
