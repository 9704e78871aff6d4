"""Stage ``fsdd``: the Free Spoken Digit Dataset, decoded and sharded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqmask.data.fsdd import collect_fsdd
from seqmask.paths import resolve_path
from seqmask.speech.stages.corpus import prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    corpus = ctx.config.corpus
    prepare_corpus(ctx, collect_fsdd(resolve_path(corpus["dir"]), heldout_speaker=corpus["heldout_speaker"]))
