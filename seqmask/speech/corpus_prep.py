"""What every speech corpus stage does with its collected records: dedupe, shard on Dask, manifest and rejects."""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.data.audio import prepare_shard, shard_batches, split_duplicates
from seqmask.data.config import AudioChecks
from seqmask.data.manifest import AudioRecord, RawAudio
from seqmask.data.rejects import Reject
from seqmask.files import write_jsonl
from seqmask.speech import artifacts

if TYPE_CHECKING:
    from seqmask.stage import StageContext

CORPUS_FILES = (artifacts.SHARDS, artifacts.MANIFEST, artifacts.REJECTS, artifacts.SUMMARY_JSON)
"""What :func:`prepare_corpus` leaves: the ``WRITES`` of every corpus stage."""


@dataclass(frozen=True, kw_only=True)
class CorpusPrep:
    """What every corpus stage's key covers besides its corpus's own settings: the shared decoding settings."""

    checks: AudioChecks
    """Decoding target and validation thresholds."""
    require_text: bool
    """A labelled corpus rejects records without a transcript as ``no_text``."""
    shard_seconds: float
    """Audio seconds per shard (one Dask task each)."""
    seed: int
    """Seed of the white noise added to the records that ask for it."""


def prepare_corpus(ctx: StageContext, raw: Sequence[RawAudio]) -> None:
    """Decode, validate and shard ``raw`` into ``ctx.out`` (its config a :class:`CorpusPrep`); bad records go to the
    rejects."""
    prep: CorpusPrep = ctx.config
    unique, rejects = split_duplicates(list(raw))
    (ctx.out / artifacts.SHARDS).mkdir()
    tasks = []
    for i, batch in enumerate(shard_batches(unique, prep.shard_seconds)):
        shard = f"{artifacts.SHARDS}/{i:05d}.safetensors"
        tasks.append((batch, ctx.out / shard, shard, prep.checks, prep.require_text, prep.seed))
    records: list[AudioRecord] = []
    for shard_records, shard_rejects in ctx.executor.map(prepare_shard_task, tasks, desc=f"{ctx.stage}: shards"):
        records.extend(shard_records)
        rejects.extend(shard_rejects)
    write_jsonl(ctx.out / artifacts.MANIFEST, records)
    write_jsonl(ctx.out / artifacts.REJECTS, rejects)
    write_summary(ctx.out, records, rejects)


def prepare_shard_task(task: tuple) -> tuple[list[AudioRecord], list[Reject]]:
    """``prepare_shard`` over one ``(records, shard_path, shard_rel, checks, require_text, seed)`` tuple: the unit Dask
    maps."""
    batch, shard_path, shard_rel, checks, require_text, seed = task
    return prepare_shard(batch, shard_path, shard_rel=shard_rel, checks=checks, require_text=require_text, seed=seed)


def write_summary(out: Path, records: Sequence[AudioRecord], rejects: Sequence[Reject]) -> None:
    """The stage summary: utterances and hours per split, rejects per reason."""
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
    (out / artifacts.SUMMARY_JSON).write_text(json.dumps(summary, indent=1), encoding="utf-8")
