"""Stage ``speech-features``: 80-channel log-mel filterbanks of every utterance of every split, on Dask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.data.manifest import SPLITS, AudioRecord
from seqmask.files import write_json
from seqmask.speech import artifacts, readers
from seqmask.speech.features import featurize_shard

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits",)
WRITES = (artifacts.FEATURE_INDEX, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """No settings: the filterbanks are the code's (``seqmask.speech.features``)."""


def build(ctx: StageContext) -> None:
    """One float16 feature shard per audio shard, and the feature index (utterance id -> feature shard)."""
    splits_dir = ctx.input_path("splits")
    by_shard: dict[str, list[AudioRecord]] = {}
    for record in readers.records(splits_dir, sorted(SPLITS)):
        by_shard.setdefault(record.shard, []).append(record)
    tasks = []
    for shard, shard_records in sorted(by_shard.items()):
        target = ctx.out / artifacts.FEATS / Path(shard).relative_to(artifacts.SHARDS)
        target.parent.mkdir(parents=True, exist_ok=True)
        tasks.append((shard_records, splits_dir / shard, target))
    index: dict[str, str] = {}
    frames = 0
    for (_, _, target), counts in zip(tasks, ctx.executor.map(_featurize_task, tasks, desc=f"{ctx.stage}: shards")):
        index.update({rid: str(target.relative_to(ctx.out)) for rid in counts})
        frames += sum(counts.values())
    write_json(ctx.out / artifacts.FEATURE_INDEX, index)
    write_json(ctx.out / artifacts.SUMMARY_JSON, {"utterances": len(index), "fbank_frames": frames})


def _featurize_task(task: tuple) -> dict[str, int]:
    shard_records, shard, target = task
    return featurize_shard(shard_records, shard, target)
