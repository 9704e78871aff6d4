"""Motion prep on the real Bandai clips: positions at 20 fps, rejects with reasons, windows with padding, clip-level
splits, features that give the positions back, body parts that hold each joint once."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from motion_files import bandai_copy, bow_with_frames, build_prep, run_measured

from seqmask.motion.artifacts import CLIPS, REJECTS, SKELETON, SUMMARY
from seqmask.motion.config import BANDAI_PARTS, MotionPrepConfig
from seqmask.motion.features import part_columns, to_features, to_positions
from seqmask.motion.prep import (
    ClipRecord,
    ClipResult,
    ClipSource,
    assign_splits,
    bandai_sources,
    cut_windows,
    read_clip,
    window_starts,
)
from seqmask.motion.stages.prep import normalization, one_skeleton
from seqmask.paths import resolve_path

BANDAI = resolve_path("data/motion/bandai-1")
PREP = MotionPrepConfig()
READ = {
    "drop_joints": ("joint_Root",),
    "scale": 0.01,
    "fps": 20,
    "min_frames": 20,
    "max_bytes": PREP.max_bvh_bytes,
    "max_position": PREP.max_position,
}


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


@pytest.mark.parametrize(
    ("name", "edit", "label", "reason", "detail"),
    [
        (
            "bow_angry_001",
            lambda t: t.replace("CHANNELS 6 Xposition", "CHANNELS 6 Wposition", 1),
            None,
            "bad_bvh",
            "Wposition",
        ),
        ("bow_angry_001", lambda t: "\n".join(t.splitlines()[:-30]), None, "bad_bvh", "declares 90 frames"),
        ("bow_angry_001", _nan_row, None, "bad_bvh", "expected a finite number, found 'nan'"),
        (
            "bow_angry_001",
            None,
            '{"content": 99, "style": 0}',
            "bad_label",
            "expected 'content' to index the 17 names of cfg/content_label.txt, found 99",
        ),
        ("bow_angry_001", None, "{not json", "bad_label", "expected JSON"),
    ],
)
def test_bad_clips_are_rejected_with_the_file_and_the_reason(tmp_path, name, edit, label, reason, detail) -> None:
    result = read_clip(copy_clip(tmp_path, name, edit, label), **READ)
    assert result.record is None and result.reject.reason == reason
    assert detail in result.reject.detail and (name in result.reject.detail or name in result.reject.origin)


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


def _set_value(row: int, column: int, value: str):
    """An edit of a clip's text setting value ``column`` (0-based) of frame row ``row`` (0-based)."""

    def edit(text: str) -> str:
        lines = text.splitlines()
        at = lines.index("MOTION") + 3 + row
        values = lines[at].split()
        lines[at] = " ".join([*values[:column], value, *values[column + 1 :]])
        return "\n".join(lines)

    return edit


HIPS_X = 6  # value column of Hips.Xposition (joint_Root's six channels come first)


def test_a_value_finite_in_float64_but_not_in_float32_is_rejected_not_finite(tmp_path) -> None:
    """1e200 cm: 1e198 m passes a float64 check, and is inf as the float32 the windows are stored in."""
    clip = copy_clip(tmp_path, "bow_angry_001", _set_value(30, HIPS_X, "1e200"))
    result = read_clip(clip, **READ)
    assert result.record is None and result.reject.reason == "not_finite"
    assert result.reject.detail.startswith(clip.bvh) and "NaN or infinite in float32 metres" in result.reject.detail
    assert "at frame 20 (20 fps), joint 'Hips'" in result.reject.detail  # source frame 30 at 30 fps


def test_a_position_beyond_max_position_is_rejected_implausible(tmp_path) -> None:
    clip = copy_clip(tmp_path, "bow_angry_001", _set_value(30, HIPS_X, "1e8"))  # 1,000 km
    result = read_clip(clip, **READ)
    assert result.record is None and result.reject.reason == "implausible"
    assert (
        result.reject.detail.startswith(clip.bvh)
        and "beyond 1000.0 m of the origin (motion_prep.max_position)" in result.reject.detail
    )
    assert re.search(r"at frame 20 \(20 fps\), joint 'Hips', axis [xyz]: [0-9.e+]+ m$", result.reject.detail)
    assert read_clip(clip, **{**READ, "max_position": 1e7}).reject is None


def test_a_clip_over_the_size_cap_is_rejected_too_large_naming_the_config_field(tmp_path) -> None:
    clip = copy_clip(tmp_path, "bow_angry_001")
    result = read_clip(clip, **{**READ, "max_bytes": 1000})
    assert result.record is None and result.reject.reason == "too_large"
    assert (
        result.reject.detail.startswith(clip.bvh)
        and "expected at most 1000 bytes of BVH text (the size cap)" in result.reject.detail
    )
    assert result.reject.detail.endswith("raise motion_prep.max_bvh_bytes to read it")


def test_a_gzip_bomb_is_rejected_too_large_in_bounded_memory(tmp_path) -> None:
    """200 MB of frame rows in a 0.6 MB gzip file (one member a MiB of rows, repeated) declaring 200,000 frames, which
    pass the frame count's check: reading stops at the default cap of 64 MiB of text. Bound: the rows read fill at most
    8/9 of 64 MiB of the float64 array (9 bytes a value in the text), about 60 MiB, and one line is held at a time; 150
    MiB above the peak before leaves a wide margin. Before the cap, the whole text was decompressed and kept as a
    string per value: 1.8 GB."""
    folder = bandai_copy(tmp_path / "bandai", {"bow_active_001": None})
    bomb = folder / "data" / "dataset-1_bow_active_001.bvh.gz"
    row = " ".join(["0.000000"] * 132) + "\n"
    member = gzip.compress((row * (2**20 // len(row))).encode())
    bomb.write_bytes(gzip.compress(bow_with_frames([], 200_000).encode()) + member * 200)
    assert bomb.stat().st_size < 2**20
    measured = run_measured(
        f"""
        from pathlib import Path
        from seqmask.motion.prep import bandai_sources, read_clip
        [source] = bandai_sources(Path({str(folder)!r}))
    """,
        f"result = read_clip(source, **{READ!r}).reject.__dict__",
        timeout=120,
    )
    assert measured["result"]["reason"] == "too_large"
    assert f"expected at most {PREP.max_bvh_bytes} bytes of BVH text (the size cap)" in measured["result"]["detail"]
    assert measured["peak_mb"] < 150, measured


def test_normalisation_statistics_that_are_not_finite_are_refused_naming_the_columns() -> None:
    features = np.zeros((2, 4, 6), dtype=np.float32)  # (N, T, D) of joints Hips and Spine
    features[1, 3, 0] = np.nan  # a padded frame: not counted
    mean, std = normalization(features, [4, 3], ("Hips", "Spine"))
    assert mean.shape == std.shape == (6,) and np.isfinite(mean).all() and np.isfinite(std).all()
    features[0, 1, 4] = np.inf
    with pytest.raises(
        ValueError,
        match=r"expected a finite mean and std in every feature column, found NaN or inf in 1 of 6: \['Spine.y'\]",
    ):
        normalization(features, [4, 3], ("Hips", "Spine"))
    features[0, 1, 4] = 0
    features[:, :2, 0] = 3e38  # finite in float32, but its square is not
    with pytest.raises(ValueError, match=r"found NaN or inf in 1 of 6: \['Hips.y'\]"):
        normalization(features, [4, 3], ("Hips", "Spine"))


def _result(file: str, joints: tuple[str, ...], parents: tuple[int, ...]) -> tuple[str, ClipResult]:
    record = ClipRecord(clip=file, file=file, content="bow", style="sad", frames=30)
    return file, ClipResult(record, None, joints, parents, None)


def test_the_reference_skeleton_is_the_one_most_clips_share_ties_going_to_the_first_file() -> None:
    a, b = (("Hips", "Spine", "Head"), (-1, 0, 1)), (("Hips", "Spine", "Neck"), (-1, 0, 1))
    kept, rejects = one_skeleton([_result("1.bvh", *b), _result("2.bvh", *a), _result("3.bvh", *a)])
    assert [r.record.file for r in kept] == ["2.bvh", "3.bvh"] and [r.origin for r in rejects] == ["1.bvh"]
    assert rejects[0].reason == "other_skeleton" and rejects[0].detail == (
        "1.bvh: expected the skeleton that 2 of 3 clips share (the first 2.bvh),"
        " found joints ['Neck'] the reference lacks and "
        "lacking its joints ['Head']"
    )
    kept, rejects = one_skeleton([_result("1.bvh", *b), _result("2.bvh", *a)])
    assert [r.record.file for r in kept] == ["1.bvh"] and [r.origin for r in rejects] == ["2.bvh"]
    moved = (("Hips", "Spine", "Head"), (-1, 0, 0))
    _, rejects = one_skeleton([_result("1.bvh", *a), _result("2.bvh", *a), _result("3.bvh", *moved)])
    assert rejects[0].detail.endswith("found joints under other parents: Head under Hips (reference: under Spine)")
    star = (("Hips", "Spine", "Head"), (-1, 0, 0))
    _, rejects = one_skeleton(
        [_result("1.bvh", *star), _result("2.bvh", *star), _result("3.bvh", ("Hips", "Head", "Spine"), (-1, 0, 0))]
    )
    assert rejects[0].detail.endswith("found the same joints in another order")


def test_prep_rejects_a_clip_of_another_skeleton_and_keeps_going(tmp_path) -> None:
    renamed = lambda text: text.replace("JOINT Toes_R", "JOINT Toe_R")  # noqa: E731
    names = ["bow_active_001", "bow_angry_001", "bow_childish_001", "bow_chimpira_001", "bow_feminine_001"]
    folder = bandai_copy(tmp_path / "bandai", {name: renamed if name == "bow_childish_001" else None for name in names})
    out = build_prep(folder, tmp_path)
    rejects = [json.loads(line) for line in (out / REJECTS).read_text().splitlines()]
    assert json.loads((out / SUMMARY).read_text())["rejects"] == {"other_skeleton": 1}
    [reject] = rejects
    assert (
        reject["origin"] == str(folder / "data" / "dataset-1_bow_childish_001.bvh")
        and reject["reason"] == "other_skeleton"
    )
    assert reject["detail"] == (
        f"{reject['origin']}: expected the skeleton that 4 of 5 clips share (the first "
        f"{folder / 'data' / 'dataset-1_bow_active_001.bvh.gz'}), found joints ['Toe_R'] the reference "
        f"lacks and lacking its joints ['Toes_R']"
    )
    clips = [json.loads(line)["clip"] for line in (out / CLIPS).read_text().splitlines()]
    assert sorted(clips) == sorted(f"dataset-1_{name}" for name in names if name != "bow_childish_001")
    assert "Toes_R" in json.loads((out / SKELETON).read_text())["joints"]
