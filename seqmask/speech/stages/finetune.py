"""Stages ``finetune-<variant>-s<seed>`` and ``reference-<corpus>``: CTC training on labelled train audio.

A variant trains on the labelled target subset (its ``labelled`` input), from a
pretrained encoder (its ``pretrain`` input) or from scratch (``none``); a reference
trains from scratch on all labelled train audio of its corpora.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


from seqmask.files import write_json
from seqmask.speech.ctc import train_ctc
from seqmask.speech.model import load_pretrained
from seqmask.speech.stages.inputs import labelled, labelled_subset, utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.speech.config import FinetuneConfig
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``model.pt`` (with its vocabulary) and ``metrics.jsonl``."""
    config: FinetuneConfig = ctx.config["finetune"]
    encoder_config = ctx.config["encoder"]
    train = labelled_subset(ctx) if "labelled" in ctx.inputs else labelled(utterances(ctx, ("train",), ctx.config["corpora"]))
    if config.units == "char":
        vocab = Vocabulary.chars(u.text for u in train)
    else:
        vocab = Vocabulary.sentencepiece((u.text for u in train), vocab_size=config.sp_vocab_size, work_dir=ctx.scratch)
    encoder = None
    if "pretrain" in ctx.inputs:
        encoder = load_pretrained(ctx.input_path("pretrain") / "model.pt", encoder_config)
    summary = train_ctc(
        config, encoder_config, train, vocab, out_dir=ctx.out, work_dir=ctx.scratch, init_encoder=encoder,
        freeze_encoder_steps=config.freeze_encoder_steps, device=default_device(), progress=ctx.step_progress("steps"),
    )
    write_json(ctx.out / "summary.json", {**summary, "train_utterances": len(train)})
