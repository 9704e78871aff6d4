"""Stages ``speech-finetune-<variant>-s<seed>`` and ``speech-finetune-reference-<corpus>``: CTC training on labelled
train audio.

A variant trains on the labelled target subset (its ``labelled`` input), from a
pretrained encoder (its ``pretrain`` input) or from scratch (``none``); a reference
trains from scratch on all labelled train audio of its corpora.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.speech import artifacts, readers
from seqmask.speech.ctc import train_ctc
from seqmask.speech.model import load_pretrained
from seqmask.speech.utterances import labelled, labelled_subset, utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.speech.config import EncoderConfig, FinetuneConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "labelled", "pretrain")
WRITES = (artifacts.MODEL, artifacts.METRICS, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """One fine-tuning: its recipe, the encoder and, for a reference, its corpora."""

    finetune: FinetuneConfig
    """The recipe, seed offset by the run's and steps a reference's own (``speech.finetune``)."""
    encoder: EncoderConfig
    """The encoder (``speech.encoder``)."""
    corpora: tuple[str, ...] | None = None
    """A reference's corpora, all of whose labelled train audio it trains on; None: a variant, which trains on its
    ``labelled`` input."""


def build(ctx: StageContext) -> None:
    """The CTC checkpoint (with its vocabulary) and its training metrics."""
    config = ctx.config.finetune
    encoder_config = ctx.config.encoder
    if "labelled" in ctx.inputs:
        train = labelled_subset(ctx)
    else:
        train = labelled(utterances(ctx, ("train",), ctx.config.corpora))
    if config.units == "char":
        vocab = Vocabulary.chars(u.text for u in train)
    else:
        vocab = Vocabulary.sentencepiece((u.text for u in train), vocab_size=config.sp_vocab_size, work_dir=ctx.scratch)
    encoder = None
    if "pretrain" in ctx.inputs:
        encoder = load_pretrained(readers.model_file(ctx.input_path("pretrain")), encoder_config)
    summary = train_ctc(
        config,
        encoder_config,
        train,
        vocab,
        out_dir=ctx.out,
        work_dir=ctx.scratch,
        init_encoder=encoder,
        freeze_encoder_steps=config.freeze_encoder_steps,
        device=default_device(),
        progress=ctx.step_progress("steps"),
    )
    write_json(ctx.out / artifacts.SUMMARY_JSON, {**summary, "train_utterances": len(train)})
