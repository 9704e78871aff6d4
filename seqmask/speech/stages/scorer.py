"""Stage ``speech-scorer``: the external ASR scorer, a CTC model trained on the labelled target subset (or the
user's)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.eval.wer import evaluate_groups
from seqmask.experiment.tables import ALL
from seqmask.files import write_json
from seqmask.paths import resolve_path
from seqmask.speech import artifacts
from seqmask.speech.ctc import train_ctc
from seqmask.speech.decode import transcribe
from seqmask.speech.model import load_asr
from seqmask.speech.utterances import labelled, labelled_subset, utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.speech.config import ScorerConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "labelled")
WRITES = (artifacts.MODEL, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The scorer, and the corpora whose ``valid`` measures it."""

    scorer: ScorerConfig
    """Its checkpoint, or how it trains (``speech.scorer``)."""
    target: tuple[str, ...]
    """The target corpora (``speech.data.target``)."""


def build(ctx: StageContext) -> None:
    """The scorer's checkpoint and its WER/CER on the target's ``valid`` (its quality, a factor studies vary)."""
    config = ctx.config.scorer
    if config.checkpoint is not None:
        source = resolve_path(config.checkpoint)
        load_asr(source)  # fails loudly on a missing or wrong checkpoint
        shutil.copy2(source, ctx.out / artifacts.MODEL)
        write_json(ctx.out / artifacts.SUMMARY_JSON, {"external": str(source)})
        return
    train = labelled_subset(ctx)
    vocab = Vocabulary.chars(u.text for u in train)
    summary = train_ctc(
        config,
        config.encoder,
        train,
        vocab,
        out_dir=ctx.out,
        work_dir=ctx.scratch,
        device=default_device(),
        progress=ctx.step_progress("steps"),
    )
    valid = labelled(utterances(ctx, ("valid",), ctx.config.target))
    if valid:
        model, _ = load_asr(ctx.out / artifacts.MODEL)
        hyps = transcribe(model, vocab, valid, device=default_device())
        rates = evaluate_groups({u.id: u.text for u in valid}, hyps, {u.id: u.split for u in valid})[ALL]
        summary |= {"valid_wer": round(100 * rates["wer"], 2), "valid_cer": round(100 * rates["cer"], 2)}
    write_json(ctx.out / artifacts.SUMMARY_JSON, summary)
