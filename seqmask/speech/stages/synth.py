"""Stage ``espeak-synth``: espeak-ng speaks Tatoeba sentences (FLAC audio and the raw records; labelled synthetic)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.files import write_jsonl
from seqmask.data.espeak import check_voices, plan_synthesis, synthesize
from seqmask.data.manifest import RawAudio
from seqmask.data.tatoeba import tatoeba_sentences
from seqmask.paths import resolve_path

if TYPE_CHECKING:
    from seqmask.speech.config import SynthConfig
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """Speak Tatoeba sentences with espeak-ng voices; writes ``audio/`` (FLAC) and ``raw.jsonl``."""
    synth: SynthConfig = ctx.config["synth"]
    check_voices([*synth.voices, *synth.heldout_voices])
    sentences = tatoeba_sentences(resolve_path(ctx.config["tatoeba_dir"]), synth.tatoeba_language)
    jobs = plan_synthesis(
        sentences,
        voices=synth.voices,
        heldout_voices=synth.heldout_voices,
        speeds=synth.speeds,
        pitches=synth.pitches,
        target_seconds=synth.target_hours * 3600,
        seconds_per_char=synth.seconds_per_char,
        test_share=synth.test_share,
        valid_share=synth.valid_share,
        mismatched_snr_db=synth.mismatched_snr_db,
        language=synth.espeak_language,
        seed=ctx.config["seed"],
    )
    audio_dir = ctx.out / "audio"
    audio_dir.mkdir()
    chunks = [(jobs[i : i + synth.jobs_per_task], audio_dir) for i in range(0, len(jobs), synth.jobs_per_task)]
    raw = [
        dataclasses.replace(record, audio=f"audio/{Path(record.audio).name}")  # relative: the artifact is relocatable
        for chunk in ctx.executor.map(_synthesize_chunk, chunks, desc=f"{ctx.stage}: utterances")
        for record in chunk
    ]
    write_jsonl(ctx.out / "raw.jsonl", raw)


def _synthesize_chunk(task: tuple) -> list[RawAudio]:
    jobs, audio_dir = task
    return [synthesize(job, audio_dir) for job in jobs]
