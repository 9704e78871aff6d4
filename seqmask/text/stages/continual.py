"""Stage ``text-continual-<strategy>-s<seed>``: continual pretraining of the base encoder with one masking strategy:
MLM on the monolingual text, then TLM on the training pairs from the MLM phase's weights (each phase resumable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.text.artifacts import (
    BASE,
    CORPUS,
    METRICS,
    MLM_MODEL,
    MLM_PHASE,
    MODEL,
    SUMMARY_JSON,
    TAG,
    TLM_PHASE,
    TOKENIZER,
)
from seqmask.text.mlm import MaskedLMUnit, masked_accuracy
from seqmask.text.model import load_encoder, save_encoder
from seqmask.text.readers import (
    encode,
    encoder_folder,
    heldout_rows,
    languages,
    mlm_rows,
    monolingual,
    pair_texts,
    parallel,
    tags,
    tlm_rows,
    vocabulary,
)
from seqmask.training.device import default_device
from seqmask.training.loop import train

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.section import ContinualConfig

VERSION = 1
ROLES = (CORPUS, TOKENIZER, BASE, TAG)
WRITES = (MODEL, MLM_MODEL, f"{MLM_PHASE}/{METRICS}", f"{TLM_PHASE}/{METRICS}", SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """One run's masking strategy and its continual pretraining (seeds offset by the run's seed)."""

    strategy: str
    """``mlm`` or ``lem`` (:data:`seqmask.text.config.STRATEGIES`); ``lem`` reads the ``tag`` input."""
    continual: ContinualConfig
    """Both phases' training, LEM's parameters and units."""


def build(ctx: StageContext) -> None:
    """``model/`` (after TLM), ``mlm_model/`` (after the MLM phase), ``mlm/metrics.jsonl``, ``tlm/metrics.jsonl`` and
    ``summary.json`` (both phases, held-out masked-token accuracy)."""
    config, strategy = ctx.config.continual, ctx.config.strategy
    vocab, language_ids = vocabulary(ctx), languages(ctx)
    sentences, pairs = monolingual(ctx), parallel(ctx)
    tagged = tags(ctx) if strategy == "lem" else None
    encoded = encode([(s.language, s.text) for s in sentences] + pair_texts(pairs), vocab, tagged, config.units)
    device = default_device()

    def unit_for(model, rows, seed: int) -> MaskedLMUnit:
        return MaskedLMUnit(
            model.to(device),
            rows,
            strategy=strategy,
            params=config.lem,
            vocabulary=vocab,
            batch_size=config.batch_size,
            seed=seed,
        )

    mlm_unit, mlm_summary = train(
        lambda: unit_for(
            load_encoder(encoder_folder(ctx, BASE, MODEL)), mlm_rows(sentences, encoded, language_ids), config.mlm.seed
        ),
        config.mlm,
        out_dir=ctx.out / MLM_PHASE,
        work_dir=ctx.scratch / MLM_PHASE,
        device=device,
        progress=ctx.step_progress("MLM steps"),
        desc=f"{strategy} MLM",
    )
    save_encoder(mlm_unit.model, ctx.out / MLM_MODEL, vocab=vocab, languages=list(language_ids))
    heldout = heldout_rows(ctx, vocab, language_ids)
    mlm_summary.update(
        truncated=mlm_unit.truncated, heldout_mlm_accuracy=round(masked_accuracy(mlm_unit.model, heldout, vocab), 4)
    )
    tlm_unit, tlm_summary = train(  # trains the MLM phase's model in place
        lambda: unit_for(mlm_unit.model, tlm_rows(pairs, encoded, language_ids), config.tlm.seed),
        config.tlm,
        out_dir=ctx.out / TLM_PHASE,
        work_dir=ctx.scratch / TLM_PHASE,
        device=device,
        progress=ctx.step_progress("TLM steps"),
        desc=f"{strategy} TLM",
    )
    save_encoder(tlm_unit.model, ctx.out / MODEL, vocab=vocab, languages=list(language_ids))
    write_json(
        ctx.out / SUMMARY_JSON,
        {
            "strategy": strategy,
            "units": config.units,
            "mlm": mlm_summary,
            "tlm": {**tlm_summary, "truncated": tlm_unit.truncated},
            "heldout_mlm_accuracy": round(masked_accuracy(tlm_unit.model, heldout, vocab), 4),
        },
    )
