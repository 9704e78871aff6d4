"""Stage ``speech-espeak-synth``: espeak-ng speaks Tatoeba sentences (FLAC audio and the raw records; labelled
synthetic)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.data.espeak import check_voices, plan_synthesis, synthesize
from seqmask.data.manifest import RawAudio
from seqmask.data.tatoeba import tatoeba_sentences
from seqmask.files import write_jsonl
from seqmask.paths import resolve_path
from seqmask.speech import artifacts

if TYPE_CHECKING:
    from seqmask.speech.config import SynthConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ()
WRITES = (artifacts.AUDIO, artifacts.RAW)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What is spoken, by which voices, and by which espeak-ng."""

    synth: SynthConfig
    """Voices, rates, pitches, amount and splits (``speech_prep.synth``)."""
    tatoeba_dir: str
    """The Tatoeba sentence files (``speech_prep.tatoeba_dir``)."""
    seed: int
    """Seed of the synthesis plan (``speech_prep.seed``)."""
    espeak: str
    """The installed espeak-ng's version: another one speaks differently."""


def build(ctx: StageContext) -> None:
    """Speak Tatoeba sentences with espeak-ng voices into the audio directory, and the raw records."""
    synth = ctx.config.synth
    check_voices([*synth.voices, *synth.heldout_voices])
    sentences = tatoeba_sentences(resolve_path(ctx.config.tatoeba_dir), synth.tatoeba_language)
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
        seed=ctx.config.seed,
    )
    audio_dir = ctx.out / artifacts.AUDIO
    audio_dir.mkdir()
    chunks = [(jobs[i : i + synth.jobs_per_task], audio_dir) for i in range(0, len(jobs), synth.jobs_per_task)]
    raw = [  # audio relative to the artifact: it is relocatable
        dataclasses.replace(record, audio=f"{artifacts.AUDIO}/{Path(record.audio).name}")
        for chunk in ctx.executor.map(_synthesize_chunk, chunks, desc=f"{ctx.stage}: utterances")
        for record in chunk
    ]
    write_jsonl(ctx.out / artifacts.RAW, raw)


def _synthesize_chunk(task: tuple) -> list[RawAudio]:
    jobs, audio_dir = task
    return [synthesize(job, audio_dir) for job in jobs]
