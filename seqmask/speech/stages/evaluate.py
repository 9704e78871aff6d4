"""Stages ``speech-evaluate-...``: greedy CTC decoding, WER and CER with jiwer on the test sets and ``valid`` of its
corpora (the target's for a variant, the reference's own for a reference)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqmask.eval.wer import WER, evaluate_groups
from seqmask.experiment.tables import ALL, results_table
from seqmask.files import write_json
from seqmask.speech import artifacts, readers
from seqmask.speech.decode import transcribe
from seqmask.speech.features import Utterance
from seqmask.speech.model import load_asr
from seqmask.speech.utterances import TEST_SPLITS, labelled, utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "finetune")
WRITES = (artifacts.WER, artifacts.HYPOTHESES, artifacts.WER_TABLE, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Which run this is, and whose test sets it is read on."""

    variant: str
    """The run's name in its table: the variant, or ``reference <corpus>``."""
    corpora: tuple[str, ...]
    """The corpora whose test sets and ``valid`` are decoded."""


def build(ctx: StageContext) -> None:
    """The error rates (per split, per split/source, and ``all`` over the test splits; ``valid`` is kept out of
    ``all``), the hypotheses and the WER table."""
    model, meta = load_asr(readers.model_file(ctx.input_path("finetune")))
    vocab = Vocabulary.from_dict(meta["vocab"])
    tests = labelled(utterances(ctx, TEST_SPLITS, ctx.config.corpora))
    valid = labelled(utterances(ctx, ("valid",), ctx.config.corpora))
    hyps = transcribe(model, vocab, [*tests, *valid], device=default_device())
    valid_rates = {group: rates for group, rates in _error_rates(valid, hyps).items() if group != ALL}
    results = {**_error_rates(tests, hyps), **valid_rates}
    write_json(ctx.out / artifacts.WER, results)
    with (ctx.out / artifacts.HYPOTHESES).open("w", encoding="utf-8") as f:
        for u in [*tests, *valid]:
            f.write(
                json.dumps(
                    {"id": u.id, "group": f"{u.split}/{u.source}", "ref": u.text, "hyp": hyps[u.id]}, ensure_ascii=False
                )
                + "\n"
            )
    (ctx.out / artifacts.WER_TABLE).write_text(results_table({ctx.config.variant: results}, WER), encoding="utf-8")
    write_json(ctx.out / artifacts.SUMMARY_JSON, {"wer_all": round(results[ALL]["wer"] * 100, 2)})


def _error_rates(found: Sequence[Utterance], hyps: dict[str, str]) -> dict[str, dict[str, Any]]:
    """WER and CER of ``found`` per split (pooled over sources), per split and source, and ``all``."""
    refs = {u.id: u.text for u in found}
    own = {u.id: hyps[u.id] for u in found}
    by_split = evaluate_groups(refs, own, {u.id: u.split for u in found})
    return {**by_split, **evaluate_groups(refs, own, {u.id: f"{u.split}/{u.source}" for u in found})}
