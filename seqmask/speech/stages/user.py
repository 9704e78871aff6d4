"""Stage ``user``: the user's own corpus (a manifest, or a folder of audio with transcripts), decoded and sharded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqmask.data.user import collect_user_dir, collect_user_manifest
from seqmask.paths import resolve_path
from seqmask.speech.stages.corpus import prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    user = ctx.config.corpus
    if user.manifest is not None:
        raw = collect_user_manifest(resolve_path(user.manifest))
    else:
        transcripts = resolve_path(user.transcripts) if user.transcripts else None
        raw = collect_user_dir(resolve_path(user.audio_dir), transcripts)
    prepare_corpus(ctx, raw)
