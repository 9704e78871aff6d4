"""Stage ``finetune-<variant>-s<seed>``: CTC fine-tuning on the labelled train split, from a pretrained encoder
(its ``pretrain`` input) or from scratch (the ``none`` variant)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqmask.speech.ctc import train_ctc
from seqmask.speech.model import load_pretrained
from seqmask.speech.stages.inputs import labelled, step_progress, utterances, write_json
from seqmask.speech.vocab import Vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.speech.config import FinetuneConfig
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``model.pt`` (with its vocabulary) and ``metrics.jsonl``."""
    config: FinetuneConfig = ctx.config
    train = labelled(utterances(ctx, ("train",)))
    if config.units == "char":
        vocab = Vocabulary.chars(u.text for u in train)
    else:
        vocab = Vocabulary.sentencepiece((u.text for u in train), vocab_size=config.sp_vocab_size, work_dir=ctx.scratch)
    encoder = None
    if "pretrain" in ctx.inputs:
        encoder = load_pretrained(ctx.input_path("pretrain") / "model.pt", config.arch)
    summary = train_ctc(
        config, config.train, train, vocab, out_dir=ctx.out, work_dir=ctx.scratch, init_encoder=encoder,
        freeze_encoder_steps=config.freeze_encoder_steps, device=default_device(), progress=step_progress(ctx, "steps"),
    )
    write_json(ctx.out / "summary.json", summary)
