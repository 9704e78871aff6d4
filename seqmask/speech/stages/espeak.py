"""Stage ``espeak``: the synthesized speech of ``espeak-synth``, decoded and sharded."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from seqmask.files import read_jsonl
from seqmask.data.manifest import RawAudio
from seqmask.speech.stages.corpus import prepare_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """Prepare the synthesized corpus; its audio paths are relative to the synth artifact."""
    synth_dir = ctx.input_path("synth")
    raw = [
        dataclasses.replace(record, audio=str(synth_dir / record.audio))
        for record in read_jsonl(synth_dir / "raw.jsonl", RawAudio)
    ]
    prepare_corpus(ctx, raw)
