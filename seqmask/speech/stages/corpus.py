"""What every speech corpus stage does with its collected records: dedupe, shard on Dask, manifest and rejects."""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqmask.files import write_jsonl
from seqmask.data.rejects import Reject
from seqmask.data.audio import prepare_shard, shard_batches, split_duplicates
from seqmask.data.config import AudioChecks
from seqmask.data.manifest import AudioRecord, RawAudio

if TYPE_CHECKING:
    from seqmask.stage import StageContext


@dataclass(frozen=True, kw_only=True)
class CorpusPrep:
    """What a corpus stage's key covers: the corpus settings plus the shared decoding settings."""

    corpus: Any
    """The corpus's own settings (folders, held-out speaker, a user corpus)."""
    checks: AudioChecks
    require_text: bool
    """A labelled corpus rejects records without a transcript as ``no_text``."""
    shard_seconds: float
    seed: int


def prepare_corpus(ctx: StageContext, raw: Sequence[RawAudio]) -> None:
    """Decode, validate and shard ``raw`` into ``ctx.out``; bad records go to ``rejects.jsonl``."""
    prep: CorpusPrep = ctx.config
    unique, rejects = split_duplicates(list(raw))
    (ctx.out / "shards").mkdir()
    tasks = [
        (batch, ctx.out / f"shards/{i:05d}.safetensors", f"shards/{i:05d}.safetensors", prep.checks, prep.require_text, prep.seed)
        for i, batch in enumerate(shard_batches(unique, prep.shard_seconds))
    ]
    records: list[AudioRecord] = []
    for shard_records, shard_rejects in ctx.executor.map(prepare_shard_task, tasks, desc=f"{ctx.stage}: shards"):
        records.extend(shard_records)
        rejects.extend(shard_rejects)
    write_jsonl(ctx.out / "manifest.jsonl", records)
    write_jsonl(ctx.out / "rejects.jsonl", rejects)
    write_summary(ctx.out, records, rejects)


def prepare_shard_task(task: tuple) -> tuple[list[AudioRecord], list[Reject]]:
    """``prepare_shard`` over one ``(records, shard_path, shard_rel, checks, require_text, seed)`` tuple: the unit Dask maps."""
    batch, shard_path, shard_rel, checks, require_text, seed = task
    return prepare_shard(batch, shard_path, shard_rel=shard_rel, checks=checks, require_text=require_text, seed=seed)


def write_summary(out: Path, records: Sequence[AudioRecord], rejects: Sequence[Reject]) -> None:
    """``summary.json``: utterances and hours per split, rejects per reason."""
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
