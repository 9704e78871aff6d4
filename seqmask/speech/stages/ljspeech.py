"""Stage ``speech-ljspeech``: the LJSpeech sample clips, decoded and sharded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.data.ljspeech import collect_ljspeech
from seqmask.paths import resolve_path
from seqmask.speech.corpus_prep import CORPUS_FILES, CorpusPrep, prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ()
WRITES = CORPUS_FILES


@dataclass(frozen=True, kw_only=True)
class LjSpeech:
    """Where the clips are."""

    dir: str
    """The clips and their ``metadata.csv`` (``speech_prep.ljspeech_dir``)."""


@dataclass(frozen=True, kw_only=True)
class Config(CorpusPrep):
    """The LJSpeech clips and the shared decoding settings."""

    corpus: LjSpeech
    """Where the clips are."""


def build(ctx: StageContext) -> None:
    prepare_corpus(ctx, collect_ljspeech(resolve_path(ctx.config.corpus.dir)))
