"""Stage ``motion-prep``: the Bandai clips read on Dask (BVH, forward kinematics, resampling), clip-level splits,
windows of features per split, normalisation statistics from the training windows (refused unless finite), rejects with
reasons (``other_skeleton``: a clip whose skeleton differs from the one most clips share)."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import save_file

from seqmask.data.rejects import Reject
from seqmask.files import write_json, write_jsonl
from seqmask.motion.artifacts import (
    CLIPS,
    NORMALIZATION,
    REJECTS,
    SKELETON,
    SKELETON_BVH,
    SUMMARY,
    WINDOWS,
    window_records,
    window_tensors,
)
from seqmask.motion.config import SPLITS, MotionPrepConfig
from seqmask.motion.features import feature_count, feature_names, part_columns, to_features
from seqmask.motion.prep import (
    ClipRecord,
    ClipResult,
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

VERSION = 1
ROLES = ()
WRITES = (
    CLIPS,
    REJECTS,
    SKELETON,
    SKELETON_BVH,
    NORMALIZATION,
    SUMMARY,
    *(name for split in SPLITS for name in (window_tensors(split), window_records(split))),
)
Config = MotionPrepConfig
"""The stage's slice: the whole ``motion_prep`` section."""

STD_FLOOR = 1e-3
"""Smallest standard deviation a feature is divided by (a column that barely moves is not blown up)."""


def build(ctx: StageContext) -> None:
    """``clips.jsonl``, ``rejects.jsonl``, ``skeleton.json``, ``skeleton.bvh``, ``windows/<split>.safetensors``
    (``features`` (N, T, D) raw, ``lengths`` (N,)) with ``windows/<split>.jsonl``, ``normalization.safetensors``
    (``mean``, ``std`` (D,)), ``summary.json``."""
    config: Config = ctx.config
    read = partial(
        read_clip,
        drop_joints=config.drop_joints,
        scale=config.scale,
        fps=config.fps,
        min_frames=config.min_frames,
        max_bytes=config.max_bvh_bytes,
        max_position=config.max_position,
    )
    sources = bandai_sources(resolve_path(config.bandai_dir))
    results = ctx.executor.map(read, sources, desc="motion clips")
    rejects = [r.reject for r in results if r.reject is not None]
    read_ok = [(source.bvh, r) for source, r in zip(sources, results) if r.record is not None]
    if not read_ok:
        raise ValueError(f"motion-prep: every clip of {config.bandai_dir} was rejected, e.g. {rejects[:1]}")
    kept, others = one_skeleton(read_ok)
    rejects += others
    joints, parents = kept[0].joints, kept[0].parents
    columns = part_columns(joints, {part.name: part.joints for part in config.body_parts})
    records = assign_splits(
        [r.record for r in kept], test_clips=config.test_clips, valid_clips=config.valid_clips, seed=config.seed
    )
    positions = {r.record.clip: r.positions for r in kept}
    (ctx.out / WINDOWS).mkdir()
    counts = {}
    for split in SPLITS:
        windows, lengths, rows = [], [], []
        for record in (r for r in records if r.split == split):
            starts = window_starts(record.frames, config.window, config.stride, config.max_windows_per_clip)
            cut, real = cut_windows(positions[record.clip], config.window, starts)  # (W, T, J, 3)
            windows += [to_features(w) for w in cut]
            lengths += real
            rows += [
                WindowRecord(clip=record.clip, start=s, length=n, content=record.content, style=record.style)
                for s, n in zip(starts, real)
            ]
        features = np.stack(windows)  # (N, T, D)
        save_file(
            {"features": features, "lengths": np.array(lengths, dtype=np.int64)}, str(ctx.out / window_tensors(split))
        )
        write_jsonl(ctx.out / window_records(split), rows)
        counts[split] = {"clips": sum(r.split == split for r in records), "windows": len(rows)}
        if split == "train":
            mean, std = normalization(features, lengths, joints)
            save_file({"mean": mean.astype(np.float32), "std": std.astype(np.float32)}, str(ctx.out / NORMALIZATION))
    write_jsonl(ctx.out / CLIPS, records)
    write_skeleton_bvh(ctx.out / SKELETON_BVH, kept[0].source_skeleton, config.fps)
    write_jsonl(ctx.out / REJECTS, rejects)
    write_json(
        ctx.out / SKELETON,
        {
            "joints": list(joints),
            "parents": list(parents),
            "parts": [part.name for part in config.body_parts],
            "part_columns": columns,
            "features": feature_count(len(joints)),
            "fps": config.fps,
            "window": config.window,
        },
    )
    write_json(
        ctx.out / SUMMARY,
        {
            "splits": counts,
            "rejects": dict(collections.Counter(r.reason for r in rejects)),
            "pairs_seen_in_training": _seen_pairs(records),
        },
    )


def _seen_pairs(records: Sequence[ClipRecord]) -> dict[str, int]:
    """How many test and valid clips have a (content, style) pair that some training clip has."""
    train = {(r.content, r.style) for r in records if r.split == "train"}
    return {
        split: sum((r.content, r.style) in train for r in records if r.split == split) for split in ("valid", "test")
    }


def one_skeleton(clips: Sequence[tuple[str, ClipResult]]) -> tuple[list[ClipResult], list[Reject]]:
    """The clips (``(bvh file, result)`` in file order) of the reference skeleton, and an ``other_skeleton`` reject
    naming the file and the difference for each other clip.

    The reference is the skeleton (joint names and parents) that most clips share; of skeletons shared by as many clips,
    the one of the first clip in file order.
    """
    counts = collections.Counter((r.joints, r.parents) for _, r in clips)  # keys in order of each skeleton's first clip
    reference = max(counts, key=counts.__getitem__)  # the first of equal counts
    first = next(file for file, r in clips if (r.joints, r.parents) == reference)
    kept, rejects = [], []
    for file, result in clips:
        if (result.joints, result.parents) == reference:
            kept.append(result)
        else:
            rejects.append(
                Reject(
                    origin=file,
                    reason="other_skeleton",
                    detail=(
                        f"{file}: expected the skeleton that {counts[reference]} of {len(clips)} clips share (the "
                        f"first {first}), found {_skeleton_difference((result.joints, result.parents), reference)}"
                    ),
                )
            )
    return kept, rejects


def _skeleton_difference(
    skeleton: tuple[tuple[str, ...], tuple[int, ...]], reference: tuple[tuple[str, ...], tuple[int, ...]]
) -> str:
    """How ``(joints, parents)`` differs from the reference: joints only in one, or joints with another parent, or
    order."""
    parents, reference_parents = _parent_names(*skeleton), _parent_names(*reference)
    extra = [name for name in parents if name not in reference_parents]
    missing = [name for name in reference_parents if name not in parents]
    if extra or missing:
        return f"joints {extra} the reference lacks and lacking its joints {missing}"
    moved = [
        f"{name} under {parents[name]} (reference: under {reference_parents[name]})"
        for name in parents
        if parents[name] != reference_parents[name]
    ]
    return f"joints under other parents: {'; '.join(moved)}" if moved else "the same joints in another order"


def _parent_names(joints: Sequence[str], parents: Sequence[int]) -> dict[str, str | None]:
    """Each joint's parent by name (None for a root)."""
    return {name: joints[parent] if parent >= 0 else None for name, parent in zip(joints, parents)}


def normalization(features: np.ndarray, lengths: Sequence[int], joints: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``(D,)`` of the real frames of windows ``(N, T, D)``; an error names the feature
    columns where either is not finite, for they must not be published."""
    valid = np.arange(features.shape[1])[None, :] < np.array(lengths)[:, None]  # (N, T)
    frames = features[valid]  # (frames, D)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        mean, std = frames.mean(axis=0), np.maximum(frames.std(axis=0), STD_FLOOR)  # (D,) each
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
    if bad.size:
        names = feature_names(joints)
        raise ValueError(
            f"motion-prep: normalisation statistics of the training windows: expected a finite mean and std in every "
            f"feature column, found NaN or inf in {bad.size} of {len(names)}: {[names[c] for c in bad[:10]]}"
        )
    return mean, std
