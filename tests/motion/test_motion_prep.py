"""Motion prep on the real Bandai clips: positions at 20 fps, rejects with reasons, windows with padding, clip-level
splits, features that give the positions back, body parts that hold each joint once."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from seqmask.motion.config import BANDAI_PARTS
from seqmask.motion.features import part_columns, to_features, to_positions
from seqmask.motion.prep import ClipRecord, ClipSource, assign_splits, bandai_sources, cut_windows, read_clip, window_starts
from seqmask.paths import resolve_path

BANDAI = resolve_path("data/motion/bandai-1")
READ = {"drop_joints": ("joint_Root",), "scale": 0.01, "fps": 20, "min_frames": 20}


def source(name: str) -> ClipSource:
    return next(s for s in bandai_sources(BANDAI) if name in s.bvh)


def copy_clip(tmp_path, name: str, edit=None, label: str | None = None) -> ClipSource:
    """A copy of a real clip (its text edited by ``edit``) with its label (or ``label``) in ``tmp_path``."""
    real = source(name)
    text = gzip.decompress(Path(real.bvh).read_bytes()).decode()
    bvh = tmp_path / f"{name}.bvh"
    bvh.write_text(edit(text) if edit else text)
    labels = tmp_path / f"{name}.json"
    labels.write_text(label if label is not None else Path(real.labels).read_text())
    return ClipSource(str(bvh), str(labels), real.contents, real.styles)


def test_a_real_clip_becomes_21_joints_at_20_fps_in_metres() -> None:
    result = read_clip(source("bow_active_001"), **READ)
    assert result.reject is None and result.record.content == "bow" and result.record.style == "active"
    assert result.positions.shape == (round(127 * 20 / 30) + 1, 21, 3) and result.record.frames == len(result.positions)
    assert result.joints[0] == "Hips" and result.parents[0] == -1 and result.parents[result.joints.index("Spine")] == 0
    head = result.positions[0, result.joints.index("Head"), 1]
    assert 1.2 < head < 1.6  # y up, metres


def _nan_row(text: str) -> str:
    lines = text.splitlines()
    values = lines[-5].split()
    lines[-5] = " ".join(["nan", *values[1:]])
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "edit", "label", "reason", "detail"), [
    ("bow_angry_001", lambda t: t.replace("CHANNELS 6 Xposition", "CHANNELS 6 Wposition", 1), None, "bad_bvh", "Wposition"),
    ("bow_angry_001", lambda t: "\n".join(t.splitlines()[:-30]), None, "bad_bvh", "declares 90 frames"),
    ("bow_angry_001", _nan_row, None, "bad_bvh", "expected a finite number, found 'nan'"),
    ("bow_angry_001", None, '{"content": 99, "style": 0}', "bad_label", "expected 'content' to index the 17 names of cfg/content_label.txt, found 99"),
    ("bow_angry_001", None, "{not json", "bad_label", "expected JSON"),
])
def test_bad_clips_are_rejected_with_the_file_and_the_reason(tmp_path, name, edit, label, reason, detail) -> None:
    result = read_clip(copy_clip(tmp_path, name, edit, label), **READ)
    assert result.record is None and result.reject.reason == reason
    assert detail in result.reject.detail and (name in result.reject.detail or name in result.reject.file)


def test_a_clip_under_min_frames_is_rejected_and_a_missing_label_is_named(tmp_path) -> None:
    short = read_clip(source("bow_angry_001"), **{**READ, "min_frames": 100})
    assert short.reject.reason == "too_short" and "60 frames at 20 fps, expected at least 100" in short.reject.detail
    clip = copy_clip(tmp_path, "bow_angry_001")
    (tmp_path / "bow_angry_001.json").unlink()
    missing = read_clip(clip, **READ)
    assert missing.reject.reason == "bad_label" and "no label file" in missing.reject.detail


def test_windows_every_stride_at_most_n_and_a_short_clip_padded_with_its_last_pose() -> None:
    assert window_starts(100, 60, 10, 8) == [0, 10, 20, 30, 40]
    assert window_starts(1000, 60, 10, 4) == [0, 310, 630, 940]
    assert window_starts(40, 60, 10, 8) == [0]
    positions = np.arange(40 * 2 * 3, dtype=np.float32).reshape(40, 2, 3)
    windows, lengths = cut_windows(positions, 60, [0])
    assert windows.shape == (1, 60, 2, 3) and lengths == [40]
    assert np.array_equal(windows[0, :40], positions) and np.array_equal(windows[0, 59], positions[-1])


def test_splits_hold_out_whole_clips_deterministically() -> None:
    records = [ClipRecord(clip=f"c{i}", file=f"c{i}.bvh", content="bow", style="sad", frames=80) for i in range(30)]
    first = assign_splits(records, test_clips=5, valid_clips=3, seed=0)
    assert [r.split for r in first] == [r.split for r in assign_splits(records, test_clips=5, valid_clips=3, seed=0)]
    assert sorted(r.split for r in first).count("test") == 5 and sorted(r.split for r in first).count("valid") == 3
    assert [r.split for r in first] != [r.split for r in assign_splits(records, test_clips=5, valid_clips=3, seed=1)]
    with pytest.raises(ValueError, match="leaves no training clip of 30"):
        assign_splits(records, test_clips=20, valid_clips=10, seed=0)


def test_features_give_the_positions_back_relative_to_the_start() -> None:
    positions = read_clip(source("walk_happy_001"), **READ).positions[:60].astype(np.float64)  # (T, J, 3)
    features = to_features(positions)
    assert features.shape == (60, 63)
    start = positions[0, 0] * np.array([1.0, 0.0, 1.0])
    assert np.abs(to_positions(features.astype(np.float64)) - (positions - start)).max() < 1e-4


def test_body_parts_hold_each_joint_once_and_errors_name_the_joint() -> None:
    joints = read_clip(source("bow_active_001"), **READ).joints
    columns = part_columns(joints, {p.name: p.joints for p in BANDAI_PARTS})
    assert sorted(c for part in columns for c in part) == list(range(63)) and columns[0][:3] == [0, 1, 2]
    with pytest.raises(ValueError, match=r"joint 'Head' is in body parts 'torso' and 'arm'"):
        part_columns(joints, {"torso": ["Hips", "Head"], "arm": ["Head"]})
    with pytest.raises(ValueError, match=r"joints in no part \['Spine'"):
        part_columns(joints, {p.name: [j for j in p.joints if j != "Spine"] for p in BANDAI_PARTS})


def test_every_real_clip_is_kept_but_the_two_under_a_second(tmp_path) -> None:
    results = [read_clip(s, **READ) for s in bandai_sources(BANDAI)]
    assert len(results) == 174 and sorted(r.reject.reason for r in results if r.reject) == ["too_short", "too_short"]
    folder = tmp_path / "bandai"
    shutil.copytree(BANDAI / "cfg", folder / "cfg")
    (folder / "data").mkdir()
    with pytest.raises(FileNotFoundError, match=r"expected BVH clips \(\*.bvh or \*.bvh.gz\), found none"):
        bandai_sources(folder)
    assert json.loads(Path(source("bow_active_001").labels).read_text()) == {"content": 6, "style": 11}
