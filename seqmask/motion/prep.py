"""Motion data prep: BVH clips with their labels to joint positions at a fixed rate (one Dask task per clip), then
clip-level splits, fixed-length windows of features, and normalisation statistics from the training windows only.

A clip shorter than the window (but at least ``min_frames``) gives one window padded with
its last pose; the window's ``length`` says how many frames are real, and training
reads the loss on those only. Shorter clips, unreadable or too large files, missing or
unknown labels, positions that are not finite in float32 or implausibly far, and clips of
another skeleton than most share are rejected with a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqmask.data.rejects import Reject
from seqmask.motion.bvh import BvhError, BvhTooLarge, Motion, Skeleton, read_bvh, write_bvh
from seqmask.motion.captions import ACTIONS, STYLES
from seqmask.motion.kinematics import joint_positions, resample


@dataclass(frozen=True, kw_only=True)
class ClipRecord:
    """A clip kept: its labels, frames at the windows' rate, and split."""

    clip: str
    file: str
    content: str
    style: str
    frames: int
    split: str = ""


@dataclass(frozen=True, kw_only=True)
class WindowRecord:
    """One training or evaluation window of a clip: frames ``start .. start + length`` at the windows' rate."""

    clip: str
    start: int
    length: int
    content: str
    style: str


@dataclass(frozen=True)
class ClipSource:
    """A clip's files and the label names its JSON indexes into."""

    bvh: str
    labels: str
    contents: tuple[str, ...]
    styles: tuple[str, ...]


@dataclass(frozen=True)
class ClipResult:
    """What reading one clip gave: a record with positions ``(F, J, 3)`` and joint names, or a reject."""

    record: ClipRecord | None
    positions: np.ndarray | None
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    reject: Reject | None
    source_skeleton: Skeleton | None = None
    """The BVH hierarchy the clip was read from (generated motions are exported onto it)."""


def bandai_sources(root: Path) -> list[ClipSource]:
    """Every ``data/*.bvh[.gz]`` of a Bandai folder with its JSON label and the label names of ``cfg/``."""
    contents, styles = (_label_names(root / "cfg" / name) for name in ("content_label.txt", "style_label.txt"))
    files = sorted(p for p in (root / "data").iterdir() if p.name.endswith((".bvh", ".bvh.gz")))
    if not files:
        raise FileNotFoundError(f"{root / 'data'}: expected BVH clips (*.bvh or *.bvh.gz), found none")
    return [ClipSource(str(p), str(_label_path(p)), contents, styles) for p in files]


def _label_names(path: Path) -> tuple[str, ...]:
    """Label names of a ``cfg/`` list, one a line (``dataset-1_bow`` -> ``bow``)."""
    return tuple(
        line.strip().removeprefix("dataset-1_")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def _label_path(bvh: Path) -> Path:
    return bvh.with_name(bvh.name.removesuffix(".gz").removesuffix(".bvh") + ".json")


def clip_name(path: str) -> str:
    return Path(path).name.removesuffix(".gz").removesuffix(".bvh")


def read_clip(
    source: ClipSource,
    *,
    drop_joints: Sequence[str],
    scale: float,
    fps: int,
    min_frames: int,
    max_bytes: int,
    max_position: float,
) -> ClipResult:
    """One clip's joint positions at ``fps`` in metres, without ``drop_joints``; or a reject with the reason.

    The BVH may hold at most ``max_bytes`` bytes of text (``too_large``), and every joint coordinate must be finite as
    float32 (``not_finite``) and no farther than ``max_position`` metres from the origin along any axis
    (``implausible``)."""

    def reject(reason: str, detail: str) -> ClipResult:
        return ClipResult(None, None, (), (), Reject(origin=source.bvh, reason=reason, detail=detail))

    try:
        content, style = _labels(source)
    except ValueError as err:
        return reject("bad_label", str(err))
    try:
        motion = read_bvh(source.bvh, max_bytes=max_bytes)
    except BvhTooLarge as err:
        return reject("too_large", f"{err}; raise motion_prep.max_bvh_bytes to read it")
    except BvhError as err:
        return reject("bad_bvh", str(err))
    names = motion.skeleton.names
    unknown = [name for name in drop_joints if name not in names]
    if unknown:
        return reject("bad_skeleton", f"joints to drop {unknown} are not in the skeleton {list(names)}")
    keep = [j for j, name in enumerate(names) if name not in drop_joints]
    joints = tuple(names[j] for j in keep)
    positions = joint_positions(motion, scale=scale)[:, keep]  # (F, J, 3)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, rejected just below
        positions = resample(positions, 1.0 / motion.frame_time, fps).astype(np.float32)  # (F', J, 3)
    problem = _position_problem(positions, joints, fps, max_position)
    if problem is not None:
        return reject(problem[0], f"{source.bvh}: {problem[1]}")
    if len(positions) < min_frames:
        return reject("too_short", f"{len(positions)} frames at {fps} fps, expected at least {min_frames}")
    old_parents = motion.skeleton.parents
    new_index = {old: new for new, old in enumerate(keep)}
    parents = tuple(_kept_parent(old, old_parents, new_index) for old in keep)
    record = ClipRecord(
        clip=clip_name(source.bvh), file=Path(source.bvh).name, content=content, style=style, frames=len(positions)
    )
    return ClipResult(record, positions, joints, parents, None, motion.skeleton)


def _position_problem(
    positions: np.ndarray, joints: Sequence[str], fps: int, max_position: float
) -> tuple[str, str] | None:
    """``(reason, detail)`` when float32 positions ``(F, J, 3)`` in metres are not finite or beyond ``max_position``;
    else None."""
    bad = ~np.isfinite(positions)  # (F, J, 3)
    if bad.any():
        first = np.argwhere(bad)[0]  # (3,): frame, joint, axis
        return (
            "not_finite",
            f"{int(bad.sum())} joint coordinates are NaN or infinite in float32 metres, the first "
            f"{_place(first, joints, fps)}",
        )
    far = np.abs(positions) > max_position  # (F, J, 3)
    if far.any():
        first = np.argwhere(far)[0]  # (3,): frame, joint, axis
        return "implausible", (
            f"{int(far.sum())} joint coordinates lie beyond {max_position} m of the origin (motion_prep.max_position), "
            f"the first {_place(first, joints, fps)}: {float(positions[tuple(first)]):.6g} m"
        )
    return None


def _place(index: np.ndarray, joints: Sequence[str], fps: int) -> str:
    """A ``(frame, joint, axis)`` index of positions, in words."""
    frame, joint, axis = (int(i) for i in index)
    return f"at frame {frame} ({fps} fps), joint {joints[joint]!r}, axis {'xyz'[axis]}"


def _kept_parent(joint: int, parents: Sequence[int], new_index: dict[int, int]) -> int:
    """The nearest kept ancestor's new index (-1 for none)."""
    parent = parents[joint]
    while parent != -1 and parent not in new_index:
        parent = parents[parent]
    return new_index.get(parent, -1)


def _labels(source: ClipSource) -> tuple[str, str]:
    path = Path(source.labels)
    if not path.is_file():
        raise ValueError(f"{path}: no label file beside the clip")
    try:
        label = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: expected JSON, found an error: {err}") from None
    indexes = [label.get(key) if isinstance(label, dict) else None for key in ("content", "style")]
    for key, index, names in zip(("content", "style"), indexes, (source.contents, source.styles)):
        if not isinstance(index, int) or not 0 <= index < len(names):
            raise ValueError(
                f"{path}: expected {key!r} to index the {len(names)} names of cfg/{key}_label.txt, found {index!r}"
            )
    content, style = source.contents[indexes[0]], source.styles[indexes[1]]
    if content not in ACTIONS or style not in STYLES:
        raise ValueError(f"{path}: labels ({content!r}, {style!r}) have no caption words")
    return content, style


def assign_splits(records: Sequence[ClipRecord], *, test_clips: int, valid_clips: int, seed: int) -> list[ClipRecord]:
    """Whole clips to ``test``, ``valid`` and ``train`` in a seeded hash order of their names."""
    if test_clips + valid_clips >= len(records):
        raise ValueError(
            f"test_clips + valid_clips = {test_clips + valid_clips} leaves no training clip of {len(records)}"
        )
    order = sorted(records, key=lambda r: hashlib.sha256(f"{seed}:{r.clip}".encode()).hexdigest())
    split = {
        r.clip: "test" if i < test_clips else "valid" if i < test_clips + valid_clips else "train"
        for i, r in enumerate(order)
    }
    return [dataclasses.replace(r, split=split[r.clip]) for r in records]


def window_starts(frames: int, window: int, stride: int, most: int) -> list[int]:
    """Starts of a clip's windows: every ``stride`` frames, at most ``most`` evenly spaced; one at 0 when shorter than a
    window."""
    starts = list(range(0, max(1, frames - window + 1), stride))
    if len(starts) > most:
        starts = [starts[i] for i in np.linspace(0, len(starts) - 1, most).round().astype(int)]
    return starts


def cut_windows(positions: np.ndarray, window: int, starts: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """``(W, window, J, 3)`` windows from ``(F, J, 3)`` positions (padded with the last pose) and their real lengths."""
    padded = np.concatenate(
        [positions, np.repeat(positions[-1:], max(0, window - len(positions)), axis=0)]
    )  # (max(F, window), J, 3)
    return np.stack([padded[s : s + window] for s in starts]), [min(window, len(positions) - s) for s in starts]


def write_skeleton_bvh(path: Path, skeleton: Skeleton, fps: int) -> None:
    """The hierarchy with one rest frame (no rotation, every position channel at its joint's offset) at ``fps``."""
    values = np.zeros((1, skeleton.channel_count))  # (1, C)
    for joint, channels in enumerate(skeleton.channels):
        start = skeleton.channel_slice(joint).start
        for i, channel in enumerate(channels):
            if channel.endswith("position"):
                values[0, start + i] = skeleton.offsets[joint, "XYZ".index(channel[0])]
    write_bvh(path, Motion(skeleton, 1.0 / fps, values))
