"""Stage ``text-base``: the encoder every continual run starts from: XLM-R trained from scratch with plain MLM on the
monolingual text (its random initialisation kept as ``untrained/``), or a local Hugging Face XLM-R (``init_from``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.masking.lem import MLM
from seqmask.paths import resolve_path
from seqmask.text.artifacts import CORPUS, MODEL, SUMMARY_JSON, TOKENIZER, UNTRAINED_MODEL
from seqmask.text.mlm import MaskedLMUnit, masked_accuracy
from seqmask.text.model import build_encoder, load_encoder, save_encoder
from seqmask.text.readers import encode, heldout_rows, languages, mlm_rows, monolingual, vocabulary
from seqmask.training.device import default_device
from seqmask.training.loop import train

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.config import BaseConfig, EncoderConfig

VERSION = 1
ROLES = (CORPUS, TOKENIZER)
WRITES = (MODEL, SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Where the base encoder comes from, and its architecture when trained here."""

    base: BaseConfig
    """``init_from``, or the plain-MLM training from scratch."""
    encoder: EncoderConfig
    """The architecture of an encoder trained here."""


def build(ctx: StageContext) -> None:
    """``model/`` (and ``untrained/`` and ``metrics.jsonl`` when trained here) and ``summary.json`` with the held-out
    masked-token accuracy (plain MLM on the validation sentences)."""
    config, encoder = ctx.config.base, ctx.config.encoder
    vocab, language_ids = vocabulary(ctx), languages(ctx)
    device = default_device()
    if config.init_from is not None:
        model = load_encoder(resolve_path(config.init_from)).to(device)
        _check_vocabulary(model.config.vocab_size, vocab.size, config.init_from)
        summary = {"init_from": str(resolve_path(config.init_from)), "steps": 0}
    else:
        sentences = monolingual(ctx)
        encoded = encode([(s.language, s.text) for s in sentences], vocab, None, "word")

        def build_unit() -> MaskedLMUnit:
            model = build_encoder(encoder, vocab_size=vocab.size, languages=len(language_ids), specials=vocab.specials)
            save_encoder(model, ctx.out / UNTRAINED_MODEL, vocab=vocab, languages=list(language_ids))
            rows = mlm_rows(sentences, encoded, language_ids)
            return MaskedLMUnit(
                model.to(device),
                rows,
                strategy="mlm",
                params=MLM,
                vocabulary=vocab,
                batch_size=config.batch_size,
                seed=config.train.seed,
            )

        unit, summary = train(
            build_unit,
            config.train,
            out_dir=ctx.out,
            work_dir=ctx.scratch,
            device=device,
            progress=ctx.step_progress("MLM steps"),
            desc="base MLM",
        )
        model = unit.model
        summary["truncated"] = unit.truncated
    save_encoder(model, ctx.out / MODEL, vocab=vocab, languages=list(language_ids))
    summary["heldout_mlm_accuracy"] = round(masked_accuracy(model, heldout_rows(ctx, vocab, language_ids), vocab), 4)
    write_json(ctx.out / SUMMARY_JSON, summary)


def _check_vocabulary(model_vocab: int, tokenizer_vocab: int, where: str) -> None:
    if model_vocab != tokenizer_vocab:
        raise ValueError(
            f"text.base.init_from {where}: the model has {model_vocab} token embeddings but its sentencepiece model "
            f"gives {tokenizer_vocab} ids (pieces, specials and <mask>): expected the XLM-R directory's own "
            "sentencepiece.bpe.model"
        )
