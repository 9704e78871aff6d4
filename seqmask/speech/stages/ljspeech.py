"""Stage ``ljspeech``: the LJSpeech sample clips, decoded and sharded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqmask.data.ljspeech import collect_ljspeech
from seqmask.paths import resolve_path
from seqmask.speech.stages.corpus import prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    prepare_corpus(ctx, collect_ljspeech(resolve_path(ctx.config.corpus["dir"])))
