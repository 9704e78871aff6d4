"""Stage ``speech-fsdd``: the Free Spoken Digit Dataset, decoded and sharded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.data.fsdd import collect_fsdd
from seqmask.paths import resolve_path
from seqmask.speech.corpus_prep import CORPUS_FILES, CorpusPrep, prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ()
WRITES = CORPUS_FILES


@dataclass(frozen=True, kw_only=True)
class Fsdd:
    """Where the recordings are, and whose are the mismatched test set."""

    dir: str
    """The recordings (``speech_prep.fsdd_dir``)."""
    heldout_speaker: str
    """The speaker held out of training (``speech_prep.fsdd_heldout_speaker``)."""


@dataclass(frozen=True, kw_only=True)
class Config(CorpusPrep):
    """The FSDD recordings and the shared decoding settings."""

    corpus: Fsdd
    """Where the recordings are and who is held out."""


def build(ctx: StageContext) -> None:
    corpus = ctx.config.corpus
    prepare_corpus(ctx, collect_fsdd(resolve_path(corpus.dir), heldout_speaker=corpus.heldout_speaker))
