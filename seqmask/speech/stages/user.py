"""Stage ``speech-user``: the user's own corpus (a manifest, or a folder of audio with transcripts), decoded and
sharded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.data.user import collect_user_dir, collect_user_manifest
from seqmask.paths import resolve_path
from seqmask.speech.corpus_prep import CORPUS_FILES, CorpusPrep, prepare_corpus

if TYPE_CHECKING:
    from seqmask.speech.config import UserCorpusConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ()
WRITES = CORPUS_FILES


@dataclass(frozen=True, kw_only=True)
class Config(CorpusPrep):
    """The user's corpus and the shared decoding settings."""

    corpus: UserCorpusConfig
    """Its manifest, or its audio folder and transcripts (``speech_prep.user``)."""


def build(ctx: StageContext) -> None:
    user = ctx.config.corpus
    if user.manifest is not None:
        raw = collect_user_manifest(resolve_path(user.manifest))
    else:
        transcripts = resolve_path(user.transcripts) if user.transcripts else None
        raw = collect_user_dir(resolve_path(user.audio_dir), transcripts)
    prepare_corpus(ctx, raw)
