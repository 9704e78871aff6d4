"""The speech-prep pipeline: one stage per corpus, then the merged splits.

Each corpus stage collects raw records, rejects duplicate ids, groups the rest into
shards and maps the pure ``prepare_shard`` over them (on Dask when attached).  Its
artifact holds ``manifest.jsonl``, ``rejects.jsonl``, ``shards/`` and
``summary.json``.  The ``splits`` stage merges them into one manifest per split.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from seqmask.config import ExperimentConfig, SynthConfig, resolve_path
from seqmask.data.audio import (
    AudioChecks,
    collect_fsdd,
    collect_ljspeech,
    collect_user_dir,
    collect_user_manifest,
    prepare_shard,
    shard_batches,
    split_duplicates,
)
from seqmask.data.manifest import AudioRecord, RawAudio, Reject, read_jsonl, write_jsonl
from seqmask.data.synth import check_voices, plan_synthesis, synthesize, tatoeba_sentences
from seqmask.stage import Pipeline, Stage, StageContext

SPLITS = ("train", "valid", "test_matched", "test_mismatched", "unlabelled")
AUDIO_MODULES = ("seqmask.data.audio", "seqmask.data.manifest")


@dataclass(frozen=True, kw_only=True)
class CorpusPrep:
    """What a corpus stage's key covers: the corpus settings plus the shared decoding settings."""

    corpus: Any
    checks: AudioChecks
    shard_seconds: float
    seed: int


def _corpus_slice(corpus_of, require_text: bool):
    def config_of(config: ExperimentConfig) -> CorpusPrep:
        prep = config.speech_prep
        return CorpusPrep(
            corpus=corpus_of(prep),
            checks=dataclasses.replace(prep.checks, require_text=require_text),
            shard_seconds=prep.shard_seconds,
            seed=prep.seed,
        )

    return config_of


def prepare_corpus(ctx: StageContext, raw: Sequence[RawAudio]) -> None:
    """Decode, validate and shard ``raw`` into ``ctx.out``; bad records go to ``rejects.jsonl``."""
    prep: CorpusPrep = ctx.config
    unique, rejects = split_duplicates(list(raw))
    (ctx.out / "shards").mkdir()
    tasks = [
        (batch, ctx.out / f"shards/{i:05d}.safetensors", f"shards/{i:05d}.safetensors", prep.checks, prep.seed)
        for i, batch in enumerate(shard_batches(unique, prep.shard_seconds))
    ]
    records: list[AudioRecord] = []
    for shard_records, shard_rejects in ctx.executor.map(prepare_shard_task, tasks, desc=f"{ctx.stage}: shards"):
        records.extend(shard_records)
        rejects.extend(shard_rejects)
    write_jsonl(ctx.out / "manifest.jsonl", records)
    write_jsonl(ctx.out / "rejects.jsonl", rejects)
    _write_summary(ctx.out, records, rejects)


def prepare_shard_task(task: tuple) -> tuple[list[AudioRecord], list[Reject]]:
    """``prepare_shard`` over one ``(records, shard_path, shard_rel, checks, seed)`` tuple: the unit Dask maps."""
    batch, shard_path, shard_rel, checks, seed = task
    return prepare_shard(batch, shard_path, shard_rel=shard_rel, checks=checks, seed=seed)


def _write_summary(out: Path, records: Sequence[AudioRecord], rejects: Sequence[Reject]) -> None:
    hours: dict[str, float] = collections.defaultdict(float)
    utterances: collections.Counter[str] = collections.Counter()
    for record in records:
        hours[record.split] += record.duration / 3600
        utterances[record.split] += 1
    summary = {
        "utterances": dict(sorted(utterances.items())),
        "hours": {split: round(h, 4) for split, h in sorted(hours.items())},
        "rejects": dict(sorted(collections.Counter(r.reason for r in rejects).items())),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


# --- corpus stages ---------------------------------------------------------------


def build_fsdd(ctx: StageContext) -> None:
    corpus = ctx.config.corpus
    prepare_corpus(ctx, collect_fsdd(resolve_path(corpus["dir"]), heldout_speaker=corpus["heldout_speaker"]))


def build_ljspeech(ctx: StageContext) -> None:
    prepare_corpus(ctx, collect_ljspeech(resolve_path(ctx.config.corpus["dir"])))


def build_user(ctx: StageContext) -> None:
    user = ctx.config.corpus
    if user.manifest is not None:
        raw = collect_user_manifest(resolve_path(user.manifest))
    else:
        transcripts = resolve_path(user.transcripts) if user.transcripts else None
        raw = collect_user_dir(resolve_path(user.audio_dir), transcripts)
    prepare_corpus(ctx, raw)


def user_sources(config: ExperimentConfig) -> list[Path]:
    """Every file the ``user`` stage reads: the manifest and each audio file it names (a missing one is rejected
    by the stage; once it exists it is listed, which changes the key), or the audio folder and transcripts."""
    user = config.speech_prep.user
    if user.manifest is not None:
        manifest = resolve_path(user.manifest)
        audio = (Path(record.audio) for record in collect_user_manifest(manifest))
        return [manifest, *(path for path in audio if path.is_file())]
    return [resolve_path(path) for path in (user.audio_dir, user.transcripts) if path]


def espeak_version() -> str:
    """The installed espeak-ng's version line; synthesized audio depends on it."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed: run `make setup` (apt-get install espeak-ng) or disable speech_prep.synth")
    return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def build_espeak_synth(ctx: StageContext) -> None:
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


def build_espeak(ctx: StageContext) -> None:
    """Prepare the synthesized corpus; its audio paths are relative to the synth artifact."""
    synth_dir = ctx.input_path("espeak-synth")
    raw = [
        dataclasses.replace(record, audio=str(synth_dir / record.audio))
        for record in read_jsonl(synth_dir / "raw.jsonl", RawAudio)
    ]
    prepare_corpus(ctx, raw)


# --- merged splits ---------------------------------------------------------------


def build_splits(ctx: StageContext) -> None:
    """One manifest per split over every corpus, with shards hard-linked in so the artifact stands alone.

    Corpora are read in the pipeline's order (fsdd, ljspeech, espeak, user); a record whose id an
    earlier corpus already used is rejected as ``duplicate_id``.
    """
    by_split: dict[str, list[AudioRecord]] = {split: [] for split in SPLITS}
    rejects: list[Reject] = []
    first_source: dict[str, str] = {}
    for name, ref in ctx.inputs.items():
        for record in read_jsonl(ref.path / "manifest.jsonl", AudioRecord):
            if record.id in first_source:
                detail = f"id already used by corpus {first_source[record.id]!r}"
                rejects.append(Reject(id=record.id, audio=record.audio, reason="duplicate_id", detail=detail, source=record.source))
                continue
            first_source[record.id] = name
            shard = f"shards/{name}/{Path(record.shard).name}"
            target = ctx.out / shard
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(ref.path / record.shard, target)
            if record.split not in by_split:
                raise ValueError(f"{ref.path / 'manifest.jsonl'}: record {record.id!r} has split {record.split!r}, expected one of {SPLITS}")
            by_split[record.split].append(dataclasses.replace(record, shard=shard))
        rejects.extend(read_jsonl(ref.path / "rejects.jsonl", Reject))
    (ctx.out / "manifests").mkdir()
    for split, records in by_split.items():
        write_jsonl(ctx.out / "manifests" / f"{split}.jsonl", sorted(records, key=lambda r: r.id))
    write_jsonl(ctx.out / "rejects.jsonl", rejects)
    all_records = [r for records in by_split.values() for r in records]
    _write_summary(ctx.out, all_records, rejects)
    (ctx.out / "summary.md").write_text(split_table(all_records, rejects), encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def split_table(records: Sequence[AudioRecord], rejects: Sequence[Reject]) -> str:
    """Markdown table of utterances and hours per source and split, plus rejects per reason."""
    cells: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for record in records:
        label = f"{record.source} (synthetic)" if record.synthetic else record.source
        cell = cells[(label, record.split)]
        cell[0] += 1
        cell[1] += record.duration / 3600
    sources = sorted({source for source, _ in cells})
    lines = ["| source | " + " | ".join(SPLITS) + " |", "|---" * (len(SPLITS) + 1) + "|"]
    for source in sources:
        row = [f"{int(cells[(source, s)][0])} / {cells[(source, s)][1]:.2f} h" if (source, s) in cells else "-" for s in SPLITS]
        lines.append(f"| {source} | " + " | ".join(row) + " |")
    reasons = collections.Counter(r.reason for r in rejects)
    lines += ["", "Rejected records: " + (", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "none")]
    return "\n".join(lines) + "\n"


SPEECH_PREP = Pipeline(
    "speech-prep",
    (
        Stage(
            "fsdd", 1, build_fsdd,
            config_of=_corpus_slice(lambda p: {"dir": p.fsdd_dir, "heldout_speaker": p.fsdd_heldout_speaker}, True),
            modules=AUDIO_MODULES,
            sources=lambda c: [resolve_path(c.speech_prep.fsdd_dir)],
        ),
        Stage(
            "ljspeech", 1, build_ljspeech,
            config_of=_corpus_slice(lambda p: {"dir": p.ljspeech_dir}, False),
            modules=AUDIO_MODULES,
            sources=lambda c: [resolve_path(c.speech_prep.ljspeech_dir)],
        ),
        Stage(
            "espeak-synth", 1, build_espeak_synth,
            config_of=lambda c: {
                "synth": c.speech_prep.synth, "tatoeba_dir": c.speech_prep.tatoeba_dir,
                "seed": c.speech_prep.seed, "espeak": espeak_version(),
            },
            modules=("seqmask.data.synth", "seqmask.data.manifest"),
            sources=lambda c: [resolve_path(c.speech_prep.tatoeba_dir)],
            enabled=lambda c: c.speech_prep.synth.enabled,
        ),
        Stage(
            "espeak", 1, build_espeak,
            config_of=_corpus_slice(lambda p: {}, True),
            inputs=("espeak-synth",),
            modules=AUDIO_MODULES,
            enabled=lambda c: c.speech_prep.synth.enabled,
        ),
        Stage(
            "user", 1, build_user,
            config_of=_corpus_slice(lambda p: p.user, False),
            modules=AUDIO_MODULES,
            sources=user_sources,
            enabled=lambda c: c.speech_prep.user.enabled,
        ),
        Stage(
            "splits", 1, build_splits,
            config_of=lambda c: {"splits": SPLITS},
            inputs=("fsdd", "ljspeech", "espeak", "user"),
            modules=("seqmask.data.manifest",),
        ),
    ),
)
