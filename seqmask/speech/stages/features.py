"""Stage ``features``: 80-channel log-mel filterbanks of every utterance of every split, on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.files import read_jsonl, write_json
from seqmask.data.manifest import AudioRecord
from seqmask.speech.features import featurize_shard

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """One float16 feature shard per audio shard, and ``index.json`` (utterance id -> feature shard)."""
    splits_dir = ctx.input_path("splits")
    by_shard: dict[str, list[AudioRecord]] = {}
    for manifest in sorted((splits_dir / "manifests").glob("*.jsonl")):
        for record in read_jsonl(manifest, AudioRecord):
            by_shard.setdefault(record.shard, []).append(record)
    tasks = []
    for shard, shard_records in sorted(by_shard.items()):
        target = ctx.out / "feats" / Path(shard).relative_to("shards")
        target.parent.mkdir(parents=True, exist_ok=True)
        tasks.append((shard_records, splits_dir / shard, target))
    index: dict[str, str] = {}
    frames = 0
    for (_, _, target), counts in zip(tasks, ctx.executor.map(_featurize_task, tasks, desc=f"{ctx.stage}: shards")):
        index.update({rid: str(target.relative_to(ctx.out)) for rid in counts})
        frames += sum(counts.values())
    write_json(ctx.out / "index.json", index)
    write_json(ctx.out / "summary.json", {"utterances": len(index), "fbank_frames": frames})


def _featurize_task(task: tuple) -> dict[str, int]:
    shard_records, shard, target = task
    return featurize_shard(shard_records, shard, target)
