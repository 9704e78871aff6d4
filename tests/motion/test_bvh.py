"""BVH reading and writing on the real Bandai-Namco clips, and the errors for malformed or truncated copies of one."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from motion_files import BOW, bow_lines, bow_with_frames, chain_bvh, flat_bvh, run_measured

from seqmask.motion.bvh import BvhError, BvhTooLarge, Motion, Skeleton, read_bvh, write_bvh
from seqmask.paths import resolve_path

BANDAI = resolve_path("data/motion/bandai-1/data")
CLIPS = sorted(BANDAI.glob("*.bvh.gz"))
NAMES = (
    "joint_Root",
    "Hips",
    "Spine",
    "Chest",
    "Neck",
    "Head",
    "Shoulder_L",
    "UpperArm_L",
    "LowerArm_L",
    "Hand_L",
    "Shoulder_R",
    "UpperArm_R",
    "LowerArm_R",
    "Hand_R",
    "UpperLeg_L",
    "LowerLeg_L",
    "Foot_L",
    "Toes_L",
    "UpperLeg_R",
    "LowerLeg_R",
    "Foot_R",
    "Toes_R",
)
CHILDREN = {
    "joint_Root": ["Hips"],
    "Hips": ["Spine", "UpperLeg_L", "UpperLeg_R"],
    "Spine": ["Chest"],
    "Chest": ["Neck", "Shoulder_L", "Shoulder_R"],
    "Neck": ["Head"],
    "Head": [],
    "Shoulder_L": ["UpperArm_L"],
    "UpperArm_L": ["LowerArm_L"],
    "LowerArm_L": ["Hand_L"],
    "Hand_L": [],
    "Shoulder_R": ["UpperArm_R"],
    "UpperArm_R": ["LowerArm_R"],
    "LowerArm_R": ["Hand_R"],
    "Hand_R": [],
    "UpperLeg_L": ["LowerLeg_L"],
    "LowerLeg_L": ["Foot_L"],
    "Foot_L": ["Toes_L"],
    "Toes_L": [],
    "UpperLeg_R": ["LowerLeg_R"],
    "LowerLeg_R": ["Foot_R"],
    "Foot_R": ["Toes_R"],
    "Toes_R": [],
}
SIX = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")


def test_every_bandai_clip_parses_with_the_frames_its_header_declares() -> None:
    assert len(CLIPS) == 174
    total = 0
    for path in CLIPS:
        text = gzip.decompress(path.read_bytes()).decode()
        motion = read_bvh(path)
        declared = int(re.search(r"^Frames:\s*(\d+)", text, re.MULTILINE).group(1))
        assert motion.values.shape == (declared, 132), path.name
        assert motion.skeleton.names == NAMES, path.name
        assert motion.frame_time == pytest.approx(1 / 30, abs=1e-6)
        total += declared
    assert total == 31914


def test_bandai_skeleton_tree_channels_and_end_sites() -> None:
    skeleton = read_bvh(BOW).skeleton
    assert skeleton.parents[0] == -1
    assert all(parent < j for j, parent in enumerate(skeleton.parents))
    assert {
        name: [skeleton.names[c] for c in skeleton.children(j)] for j, name in enumerate(skeleton.names)
    } == CHILDREN
    assert skeleton.channels == (SIX,) * 22 and skeleton.channel_count == 132
    assert skeleton.channel_slice(skeleton.index("Spine")) == slice(12, 18)
    leaves = [name for name, children in CHILDREN.items() if not children]
    assert [skeleton.names[j] for j, site in enumerate(skeleton.end_sites) if site is not None] == leaves
    assert all(np.array_equal(skeleton.end_sites[skeleton.index(name)], np.zeros(3)) for name in leaves)
    np.testing.assert_array_equal(skeleton.offsets[skeleton.index("LowerLeg_L")], [39.0811, 0.0, -1.23785e-05])


def _replace(lines: list[str], prefix: str, new: str | None) -> list[str]:
    """The lines with the first one starting (after indentation) with ``prefix`` replaced by ``new`` (None: removed)."""
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(prefix))
    return lines[:at] + ([] if new is None else [new]) + lines[at + 1 :]


def _edit_row(lines: list[str], row: int, edit: Callable[[list[str]], list[str]]) -> list[str]:
    """The lines with frame row ``row`` (0-based) rewritten by ``edit`` of its values."""
    at = lines.index("MOTION") + 3 + row
    return lines[:at] + [" ".join(edit(lines[at].split()))] + lines[at + 1 :]


MOTION_LINE = 132  # 1-based line of MOTION in the bow clip; frame row r (0-based) is on line MOTION_LINE + 3 + r
ROW0 = MOTION_LINE + 2  # 0-based index of the first frame row in the file's lines
CASES = {
    "truncated_rows": (lambda lines: lines[: ROW0 + 40], "'Frames:' declares 128 frames, found 40 frame rows"),
    "cut_mid_row": (
        lambda lines: lines[: ROW0 + 40] + [lines[ROW0 + 40][:200]],
        f":{MOTION_LINE + 43}: frame row 41 has",
    ),
    "no_channels_line": (
        lambda lines: _replace(lines, "CHANNELS", None),
        ":134: frame row 1 has 132 values, expected 126",
    ),
    "nan": (
        lambda lines: _edit_row(lines, 7, lambda v: v[:20] + ["nan"] + v[21:]),
        ":142: value 21 (Chest.Zposition): expected a finite number, found 'nan'",
    ),
    "inf": (
        lambda lines: _edit_row(lines, 0, lambda v: ["-inf"] + v[1:]),
        "value 1 (joint_Root.Xposition): expected a finite number",
    ),
    "not_a_number": (
        lambda lines: _edit_row(lines, 2, lambda v: v[:5] + ["1.2.3"] + v[6:]),
        ":137: value 6 (joint_Root.Yrotation)",
    ),
    "short_row": (
        lambda lines: _edit_row(lines, 9, lambda v: v[:-1]),
        ":144: frame row 10 has 131 values, expected 132",
    ),
    "no_motion": (lambda lines: _replace(lines, "MOTION", None), "expected a MOTION section after the HIERARCHY"),
    "unclosed_brace": (
        lambda lines: lines[: MOTION_LINE - 2] + lines[MOTION_LINE - 1 :],
        "closing joint 'joint_Root' (opened at line 2; unbalanced braces?), found the end of the hierarchy",
    ),
    "extra_brace": (
        lambda lines: lines[: MOTION_LINE - 1] + ["}"] + lines[MOTION_LINE - 1 :],
        ":132: expected MOTION after the root joint's closing '}', found '}' (unbalanced braces?)",
    ),
    "no_offset": (
        lambda lines: lines[:11] + lines[12:],
        ":12: expected 'OFFSET' first in joint 'Spine', found 'CHANNELS'",
    ),
    "unknown_channel": (
        lambda lines: _replace(
            lines, "CHANNELS", "CHANNELS 6 Xposition Yposition Zposition Wrotation Xrotation Yrotation"
        ),
        ":5: unknown channel 'Wrotation' in joint 'joint_Root'",
    ),
    "channel_count": (
        lambda lines: _replace(lines, "CHANNELS", "CHANNELS 5 " + " ".join(SIX)),
        ":5: CHANNELS of joint 'joint_Root' declares 5 channels, lists 6",
    ),
    "zero_frames": (
        lambda lines: _replace(lines, "Frames:", "Frames: 0"),
        ":133: declares 0 frames; expected at least one",
    ),
    "zero_frame_time": (
        lambda lines: _replace(lines, "Frame Time:", "Frame Time: 0"),
        ":134: expected a positive frame time, found 0",
    ),
    "negative_frame_time": (
        lambda lines: _replace(lines, "Frame Time:", "Frame Time: -0.03"),
        "expected a positive frame time, found -0.03",
    ),
    "no_frame_count": (
        lambda lines: _replace(lines, "Frames:", "Frames: many"),
        "expected a whole number of frames after 'Frames:'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_copy_of_a_real_clip_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    edit, expected = CASES[case]
    lines = bow_lines()
    assert lines[MOTION_LINE - 1] == "MOTION"
    path = tmp_path / f"{case}.bvh"
    path.write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(BvhError) as caught:
        read_bvh(path)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)


def test_a_broken_gzip_file_is_a_bvh_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.bvh.gz"
    path.write_bytes(BOW.read_bytes()[:1000])
    with pytest.raises(BvhError, match=re.escape(str(path)) + ": expected gzip-compressed text"):
        read_bvh(path)


def test_text_that_is_not_utf8_names_the_line_and_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.bvh"
    path.write_bytes(b"HIERARCHY\nROOT caf\xe9\n")
    with pytest.raises(BvhError, match=re.escape(f"{path}:2: expected UTF-8 text, found byte 0xe9 at offset 18")):
        read_bvh(path)


@pytest.mark.parametrize("name", ["copy.bvh", "copy.bvh.gz"])
def test_write_then_read_gives_the_motion_back(tmp_path: Path, name: str) -> None:
    motion = read_bvh(BOW)
    path = tmp_path / name
    write_bvh(path, motion)
    again = read_bvh(path)
    skeleton, skeleton_again = motion.skeleton, again.skeleton
    assert (skeleton_again.names, skeleton_again.parents, skeleton_again.channels) == (
        skeleton.names,
        skeleton.parents,
        skeleton.channels,
    )
    np.testing.assert_allclose(skeleton_again.offsets, skeleton.offsets, rtol=0, atol=1e-6)  # 6 decimals printed
    assert [site is None for site in skeleton_again.end_sites] == [site is None for site in skeleton.end_sites]
    np.testing.assert_allclose(again.values, motion.values, rtol=0, atol=1e-6)
    assert again.frame_time == pytest.approx(motion.frame_time, rel=1e-9)
    write_bvh(tmp_path / f"twice-{name}", again)  # what was printed prints the same
    assert (tmp_path / f"twice-{name}").read_bytes() == path.read_bytes()


def test_skeleton_and_motion_check_their_shapes() -> None:
    skeleton = Skeleton(
        ("root", "tip"), (-1, 0), np.zeros((2, 3)), (("Xposition", "Zrotation"), ()), (None, np.ones(3))
    )
    with pytest.raises(ValueError, match=r"expected shape \(F >= 1, 2\) for the skeleton's channels, found \(4, 3\)"):
        Motion(skeleton, 0.1, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected parent -1 or an earlier joint"):
        Skeleton(("a", "b"), (1, -1), np.zeros((2, 3)), ((), ()), (None, None))
    with pytest.raises(ValueError, match="expected distinct channels"):
        Skeleton(("a",), (-1,), np.zeros((1, 3)), (("Xrotation", "Xrotation"),), (None,))
    assert Motion(skeleton, 0.1, np.zeros((4, 2))).fps == pytest.approx(10.0)


@pytest.mark.parametrize("depth", [3000, 20000])
def test_a_chain_nested_deeper_than_the_recursion_limit_parses(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "chain.bvh"
    path.write_text(chain_bvh(depth))
    motion = read_bvh(path)
    assert motion.skeleton.parents == tuple(range(-1, depth - 1)) and motion.values.shape == (2, 3 + depth - 1)
    assert motion.skeleton.names[-1] == f"j{depth - 1}" and motion.skeleton.end_sites[-1] is not None


def test_a_chain_nested_deeper_than_the_recursion_limit_writes_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "chain.bvh"
    path.write_text(chain_bvh(1500))  # the recursion limit is 1,000 frames
    motion = read_bvh(path)
    write_bvh(tmp_path / "again.bvh", motion)
    again = read_bvh(tmp_path / "again.bvh")
    assert again.skeleton.names == motion.skeleton.names and again.skeleton.parents == motion.skeleton.parents


def test_a_flat_skeleton_of_50000_joints_parses_and_writes_back_in_linear_time(tmp_path: Path) -> None:
    """Joint look-ups by name, children and channel offsets are tables built once: before, reading and writing 50,000
    joints took 6 minutes (20,000: 18 s); now 3 s. The timeout only catches the quadratic time, with a wide margin."""
    path = tmp_path / "flat.bvh"
    path.write_text(flat_bvh(50000))
    result = run_measured(
        "from seqmask.motion.bvh import read_bvh, write_bvh",
        f"""
        motion = read_bvh({str(path)!r})
        write_bvh({str(tmp_path / "again.bvh")!r}, motion)
        skeleton = read_bvh({str(tmp_path / "again.bvh")!r}).skeleton
        result = [len(skeleton.children(0)), skeleton.channel_slice(7).start, """
        """skeleton.index('j49999'), skeleton.channel_count]
    """,
        timeout=60,
    )
    assert result["result"] == [49999, 3 + 6, 49999, 3 + 49999]


def test_skeleton_tables_match_the_tree() -> None:
    skeleton = Skeleton(
        ("root", "a", "b", "c"),
        (-1, 0, 1, 0),
        np.zeros((4, 3)),
        (("Xposition", "Zrotation"), ("Zrotation",), (), ("Xrotation", "Yrotation", "Zrotation")),
        (None,) * 4,
    )
    assert [skeleton.children(j) for j in range(4)] == [(1, 3), (2,), (), ()]
    assert [skeleton.channel_slice(j) for j in range(4)] == [slice(0, 2), slice(2, 3), slice(3, 3), slice(3, 6)]
    assert skeleton.channel_count == 6 and skeleton.index("c") == 3
    with pytest.raises(KeyError, match="skeleton has no joint 'd'"):
        skeleton.index("d")
    with pytest.raises(ValueError, match=r"expected unique names, found \['a'\] more than once"):
        Skeleton(("a", "a"), (-1, 0), np.zeros((2, 3)), ((), ()), (None, None))


@pytest.mark.parametrize("name", ["bow.bvh", "bow.bvh.gz"])
def test_the_size_cap_counts_the_text_not_the_compressed_bytes(tmp_path: Path, name: str) -> None:
    text = "\n".join(bow_lines()) + "\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    assert read_bvh(path, max_bytes=len(text)).frame_count == 128
    with pytest.raises(BvhTooLarge) as caught:
        read_bvh(path, max_bytes=len(text) - 1)
    assert str(caught.value).startswith(
        f"{path}:{len(bow_lines())}: expected at most {len(text) - 1} bytes of BVH text (the size cap)"
    )


def test_a_frame_count_too_large_for_the_cap_is_refused_before_any_row_is_read(tmp_path: Path) -> None:
    path = tmp_path / "many.bvh"
    path.write_text(bow_with_frames(bow_lines()[MOTION_LINE + 2 :], 10**12))
    with pytest.raises(
        BvhTooLarge,
        match=re.escape(f"{path}:{MOTION_LINE + 1}: declares 1000000000000 frames of 132 values, at least "),
    ):
        read_bvh(path)


def test_reading_a_large_file_takes_little_more_memory_than_its_values(tmp_path: Path) -> None:
    """About 40 MB of text, 38,400 frames of 132 values: a float64 array of 40.6 MB. Bound: 3 times the array (the
    reader fills one array, which Motion copies once); keeping a string per value took 13 times (515 MiB)."""
    rows = bow_lines()[MOTION_LINE + 2 :] * 300
    path = tmp_path / "long.bvh"
    path.write_text(bow_with_frames(rows, len(rows)))
    array_mb = len(rows) * 132 * 8 / 2**20
    measured = run_measured(
        "from seqmask.motion.bvh import read_bvh", f"result = read_bvh({str(path)!r}).frame_count", timeout=120
    )
    assert measured["result"] == len(rows)
    assert measured["peak_mb"] < 3 * array_mb, measured
