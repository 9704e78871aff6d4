"""Stage ``motion-prep``: the Bandai clips read on Dask (BVH, forward kinematics, resampling), clip-level splits,
windows of features per split, normalisation statistics from the training windows, rejects with reasons."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import save_file

from seqmask.data.manifest import write_json, write_jsonl
from seqmask.motion.config import SPLITS
from seqmask.motion.features import feature_count, part_columns, to_features
from seqmask.motion.prep import (
    SKELETON_BVH,
    ClipRecord,
    WindowRecord,
    assign_splits,
    bandai_sources,
    cut_windows,
    read_clip,
    window_starts,
    write_skeleton_bvh,
)
from seqmask.paths import resolve_path

if TYPE_CHECKING:
    from seqmask.stage import StageContext

STD_FLOOR = 1e-3
"""Smallest standard deviation a feature is divided by (a column that barely moves is not blown up)."""


def build(ctx: StageContext) -> None:
    """``clips.jsonl``, ``rejects.jsonl``, ``skeleton.json``, ``windows/<split>.safetensors`` (``features`` (N, T, D) raw,
    ``lengths`` (N,)) with ``windows/<split>.jsonl``, ``normalization.safetensors`` (``mean``, ``std`` (D,)), ``summary.json``."""
    config = ctx.config
    read = partial(read_clip, drop_joints=config.drop_joints, scale=config.scale, fps=config.fps, min_frames=config.min_frames)
    results = ctx.executor.map(read, bandai_sources(resolve_path(config.bandai_dir)), desc="motion clips")
    rejects = [r.reject for r in results if r.reject is not None]
    kept = [r for r in results if r.record is not None]
    if not kept:
        raise ValueError(f"motion-prep: every clip of {config.bandai_dir} was rejected, e.g. {rejects[:1]}")
    skeletons = {(r.joints, r.parents) for r in kept}
    if len(skeletons) > 1:
        raise ValueError(f"motion-prep: the clips of {config.bandai_dir} have {len(skeletons)} different skeletons; expected one")
    joints, parents = kept[0].joints, kept[0].parents
    columns = part_columns(joints, {part.name: part.joints for part in config.body_parts})
    records = assign_splits([r.record for r in kept], test_clips=config.test_clips, valid_clips=config.valid_clips, seed=config.seed)
    positions = {r.record.clip: r.positions for r in kept}
    (ctx.out / "windows").mkdir()
    counts = {}
    for split in SPLITS:
        windows, lengths, rows = [], [], []
        for record in (r for r in records if r.split == split):
            starts = window_starts(record.frames, config.window, config.stride, config.max_windows_per_clip)
            cut, real = cut_windows(positions[record.clip], config.window, starts)  # (W, T, J, 3)
            windows += [to_features(w) for w in cut]
            lengths += real
            rows += [WindowRecord(clip=record.clip, start=s, length=n, content=record.content, style=record.style) for s, n in zip(starts, real)]
        features = np.stack(windows)  # (N, T, D)
        save_file({"features": features, "lengths": np.array(lengths, dtype=np.int64)}, str(ctx.out / "windows" / f"{split}.safetensors"))
        write_jsonl(ctx.out / "windows" / f"{split}.jsonl", rows)
        counts[split] = {"clips": sum(r.split == split for r in records), "windows": len(rows)}
        if split == "train":
            valid = np.arange(config.window)[None, :] < np.array(lengths)[:, None]  # (N, T)
            frames = features[valid]  # (frames, D)
            mean, std = frames.mean(axis=0), np.maximum(frames.std(axis=0), STD_FLOOR)
            save_file({"mean": mean.astype(np.float32), "std": std.astype(np.float32)}, str(ctx.out / "normalization.safetensors"))
    write_jsonl(ctx.out / "clips.jsonl", records)
    write_skeleton_bvh(ctx.out / SKELETON_BVH, kept[0].source_skeleton, config.fps)
    write_jsonl(ctx.out / "rejects.jsonl", rejects)
    write_json(ctx.out / "skeleton.json", {
        "joints": list(joints), "parents": list(parents), "parts": [part.name for part in config.body_parts], "part_columns": columns,
        "features": feature_count(len(joints)), "fps": config.fps, "window": config.window,
    })
    write_json(ctx.out / "summary.json", {
        "splits": counts, "rejects": dict(collections.Counter(r.reason for r in rejects)),
        "pairs_seen_in_training": _seen_pairs(records),
    })


def _seen_pairs(records: Sequence[ClipRecord]) -> dict[str, int]:
    """How many test and valid clips have a (content, style) pair that some training clip has."""
    train = {(r.content, r.style) for r in records if r.split == "train"}
    return {split: sum((r.content, r.style) in train for r in records if r.split == split) for split in ("valid", "test")}
