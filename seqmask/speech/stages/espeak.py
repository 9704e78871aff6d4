"""Stage ``speech-espeak``: the synthesized speech of ``speech-espeak-synth``, decoded and sharded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.speech.corpus_prep import CORPUS_FILES, CorpusPrep, prepare_corpus
from seqmask.speech.readers import read_raw

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("synth",)
WRITES = CORPUS_FILES


@dataclass(frozen=True, kw_only=True)
class Config(CorpusPrep):
    """The shared decoding settings (the ``synth`` input holds the corpus)."""


def build(ctx: StageContext) -> None:
    """Prepare the synthesized corpus."""
    prepare_corpus(ctx, read_raw(ctx.input_path("synth")))
