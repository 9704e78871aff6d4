"""Forward kinematics on the real Bandai-Namco clips, Euler conversions, resampling, and inverse kinematics for
export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqmask.motion.bvh import Motion, Skeleton, read_bvh, write_bvh
from seqmask.motion.kinematics import (
    euler_to_matrix,
    global_transforms,
    joint_positions,
    matrix_to_euler,
    positions_to_motion,
    resample,
    translated_joints,
)
from seqmask.paths import resolve_path

BANDAI = resolve_path("data/motion/bandai-1/data")
BOW = BANDAI / "dataset-1_bow_active_001.bvh.gz"  # stands still at frame 0
WALK = BANDAI / "dataset-1_walk_normal_001.bvh.gz"  # walks about 8 m along +z
DANCE = BANDAI / "dataset-1_dance-short_normal_001.bvh.gz"
ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def _bones(motion: Motion, positions: np.ndarray) -> np.ndarray:
    """Lengths ``(F, J - 2)`` of the body's bones (every joint below Hips to its parent)."""
    parents = np.array(motion.skeleton.parents[2:])
    return np.linalg.norm(positions[:, 2:] - positions[:, parents], axis=-1)


def test_forward_kinematics_of_a_real_clip_is_a_standing_person_y_up_facing_z() -> None:
    motion = read_bvh(BOW)
    skeleton = motion.skeleton
    frame = joint_positions(motion)[0]  # (J, 3) metres
    y = {name: frame[j, 1] for j, name in enumerate(skeleton.names)}
    assert 1.35 < y["Head"] < 1.5  # the head joint (its End Site adds nothing): a person of about 1.6-1.7 m
    assert y["Head"] > y["Neck"] > y["Chest"] > y["Hips"] > y["LowerLeg_L"] > y["Foot_L"] > 0.0  # y up
    body = frame[1:]  # joint_Root stays at the origin, on the floor
    assert skeleton.names[1 + int(np.argmin(body[:, 1]))] in ("Toes_L", "Toes_R", "Foot_L", "Foot_R")
    assert 0.0 < body[:, 1].min() < 0.08 and np.array_equal(frame[0], np.zeros(3))
    left_to_right = frame[skeleton.index("UpperLeg_R")] - frame[skeleton.index("UpperLeg_L")]
    facing = np.cross([0.0, 1.0, 0.0], left_to_right)
    assert facing[2] / np.linalg.norm(facing) > 0.95  # faces +z, the character's left on +x
    assert frame[skeleton.index("Hand_L"), 0] > 0.1 > -0.1 > frame[skeleton.index("Hand_R"), 0]


@pytest.mark.parametrize("path", [BOW, WALK, DANCE], ids=lambda p: p.name)
def test_bone_lengths_stay_constant_over_frames(path: Path) -> None:
    motion = read_bvh(path)
    bones = _bones(motion, joint_positions(motion))  # (F, J - 2)
    assert np.ptp(bones, axis=0).max() < 1e-6
    thigh = bones[0, motion.skeleton.index("LowerLeg_L") - 2]
    assert thigh == pytest.approx(0.390811, abs=1e-5)  # position channels replace offsets: lengths are the offsets'


def test_walk_moves_the_hips_along_z_and_keeps_the_feet_on_the_floor() -> None:
    motion = read_bvh(WALK)
    positions = joint_positions(motion)  # (F, J, 3)
    hips = positions[:, motion.skeleton.index("Hips")]  # (F, 3)
    assert hips[-1, 2] - hips[0, 2] > 5.0 and abs(hips[-1, 0] - hips[0, 0]) < 0.5
    assert np.abs(positions[:, 1:, 1].min(axis=1)).max() < 0.1  # every frame has a foot near y = 0


def _two_joints(channels: tuple[str, ...], offset: tuple[float, float, float]) -> Skeleton:
    return Skeleton(
        ("root", "tip"), (-1, 0), np.array([[100.0, 0.0, 0.0], offset]), (channels, ()), (None, np.zeros(3))
    )


def test_rotation_channels_apply_in_the_listed_order_and_positions_replace_offsets() -> None:
    # Rz(90) @ Rx(90) takes (0, 1, 0) to (0, 0, 1); Rx(90) @ Rz(90) takes it to (-1, 0, 0)
    cases = (
        (("Xposition", "Zrotation", "Xrotation"), [5.0, 0.0, 1.0]),
        (("Xposition", "Xrotation", "Zrotation"), [4.0, 0.0, 0.0]),
    )
    for channels, tip in cases:
        motion = Motion(_two_joints(channels, (0.0, 1.0, 0.0)), 0.1, np.array([[5.0, 90.0, 90.0]]))
        positions = joint_positions(motion, scale=1.0)[0]  # (2, 3)
        np.testing.assert_allclose(positions, [[5.0, 0.0, 0.0], tip], atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_matrix_to_euler_inverts_euler_to_matrix_in_every_order(order: str) -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180.0, 180.0, (500, 3))  # (N, 3)
    angles[:, 1] = rng.uniform(-90.0, 90.0, 500)
    angles[:10, 1] = 90.0  # gimbal lock
    angles[10:20, 1] = -90.0
    matrices = euler_to_matrix(angles, order)  # (N, 3, 3)
    again = matrix_to_euler(matrices, order)
    np.testing.assert_allclose(euler_to_matrix(again, order), matrices, atol=1e-9)
    np.testing.assert_allclose(again[20:], angles[20:], atol=1e-7)  # away from the lock the angles themselves come back


def test_matrix_to_euler_rejects_an_order_that_is_not_a_permutation() -> None:
    with pytest.raises(ValueError, match="expected a permutation of 'XYZ', found 'XXZ'"):
        matrix_to_euler(np.eye(3), "XXZ")


def test_resample_keeps_endpoints_and_length_ratio_and_a_line_stays_a_line() -> None:
    times = np.arange(91) / 30.0  # (F,) 3 s at 30 fps
    line = np.stack([times * 1.5, 2.0 - times, np.full_like(times, 0.25)], axis=-1)  # (F, 3) constant velocity
    positions = np.stack([line, 2 * line], axis=1)  # (F, 2, 3)
    down = resample(positions, 30, 20)
    assert down.shape == (61, 2, 3)
    np.testing.assert_allclose(down[[0, -1]], positions[[0, -1]], atol=1e-12)
    new_times = np.arange(61) / 20.0
    np.testing.assert_allclose(
        down[:, 0], np.stack([new_times * 1.5, 2.0 - new_times, np.full(61, 0.25)], axis=-1), atol=1e-12
    )
    up = resample(positions, 30, 60)
    assert up.shape == (181, 2, 3)
    np.testing.assert_allclose(up[::2], positions, atol=1e-12)
    assert np.array_equal(resample(positions[:1], 30, 20), positions[:1])
    with pytest.raises(ValueError, match="expected positive frame rates"):
        resample(positions, 0, 20)


def test_resample_of_a_real_clip_to_20_fps() -> None:
    motion = read_bvh(BOW)
    positions = joint_positions(motion)  # (128, 22, 3)
    down = resample(positions, motion.fps, 20)
    assert down.shape == (round(127 * 20 / 30) + 1, 22, 3)
    np.testing.assert_allclose(down[[0, -1]], positions[[0, -1]])


def test_bandai_skeleton_is_placed_by_its_root_and_hips() -> None:
    assert translated_joints(read_bvh(BOW).skeleton) == ("joint_Root", "Hips")


@pytest.mark.parametrize("path", [BOW, WALK, DANCE], ids=lambda p: p.name)
def test_positions_to_motion_reproduces_real_positions_within_a_millimetre(tmp_path: Path, path: Path) -> None:
    motion = read_bvh(path)
    positions = joint_positions(motion)  # (F, J, 3)
    exported = positions_to_motion(motion.skeleton, positions, frame_time=motion.frame_time)
    assert np.abs(joint_positions(exported) - positions).max() < 1e-3
    write_bvh(tmp_path / "export.bvh", exported)
    reread = read_bvh(tmp_path / "export.bvh")
    assert np.abs(joint_positions(reread) - positions).max() < 1e-3
    assert reread.frame_count == motion.frame_count and reread.frame_time == pytest.approx(motion.frame_time)


def _turns(motion: Motion) -> np.ndarray:
    """Each joint's largest change of global rotation between consecutive frames, in degrees ``(J,)``."""
    rotations = global_transforms(motion)[0]  # (F, J, 3, 3)
    cosines = (np.einsum("fjab,fjab->fj", rotations[1:], rotations[:-1]) - 1) / 2  # (F - 1, J) trace form
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))).max(axis=0)


def test_exported_twist_is_continuous_no_joint_turns_faster_than_in_the_capture() -> None:
    motion = read_bvh(DANCE)  # 1300+ frames of arm swings: a swing from a fixed reference flips the forearm twist
    exported = positions_to_motion(motion.skeleton, joint_positions(motion), frame_time=motion.frame_time)
    assert (_turns(exported) <= _turns(motion) + 5.0).all()


def test_positions_to_motion_of_noisy_positions_stays_close_with_the_skeleton_bones() -> None:
    motion = read_bvh(WALK)
    positions = joint_positions(motion)  # (F, J, 3)
    noisy = positions + np.random.default_rng(0).normal(0.0, 0.01, positions.shape)  # 1 cm a coordinate
    exported = joint_positions(positions_to_motion(motion.skeleton, noisy, frame_time=motion.frame_time))
    assert np.linalg.norm(exported - noisy, axis=-1).mean() < 0.02
    assert np.linalg.norm(exported - positions, axis=-1).mean() < 0.02
    np.testing.assert_allclose(
        _bones(motion, exported), _bones(motion, positions), atol=1e-9
    )  # bones stay the skeleton's


def test_positions_to_motion_on_a_skeleton_rooted_at_the_hips() -> None:
    # a standard layout: the root has three children and the only position channels
    rotation = ("Zrotation", "Xrotation", "Yrotation")
    skeleton = Skeleton(
        ("hips", "spine", "head", "leg_l", "foot_l", "leg_r", "foot_r"),
        (-1, 0, 1, 0, 3, 0, 5),
        np.array([[0, 90, 0], [0, 20, 0], [0, 30, 0], [10, 0, 0], [0, -45, 0], [-10, 0, 0], [0, -45, 0]], dtype=float),
        (("Xposition", "Yposition", "Zposition") + rotation, rotation, (), rotation, (), rotation, ()),
        (None, None, np.array([0.0, 10.0, 0.0]), None, np.zeros(3), None, np.zeros(3)),
    )
    assert translated_joints(skeleton) == ("hips",)
    angles = np.random.default_rng(1).uniform(-60.0, 60.0, (25, 12))  # (F, 12)
    values = np.concatenate([np.random.default_rng(2).normal(0, 50, (25, 3)), angles], axis=1)  # (F, 15)
    positions = joint_positions(Motion(skeleton, 0.05, values))  # (F, 7, 3)
    exported = positions_to_motion(skeleton, positions, frame_time=0.05)
    assert np.abs(joint_positions(exported) - positions).max() < 1e-6


def test_positions_to_motion_rejects_wrong_shapes_and_unplaceable_roots() -> None:
    skeleton = read_bvh(BOW).skeleton
    with pytest.raises(ValueError, match=r"expected positions of shape \(F >= 1, 22, 3\), found \(5, 21, 3\)"):
        positions_to_motion(skeleton, np.zeros((5, 21, 3)), frame_time=0.1)
    with pytest.raises(ValueError, match="root joint 'joint_Root' must be translated"):
        positions_to_motion(skeleton, np.zeros((5, 22, 3)), frame_time=0.1, translated=("Hips",))
    no_position = _two_joints(("Zrotation", "Xrotation", "Yrotation"), (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="translated joint 'root' needs all three position channels"):
        positions_to_motion(no_position, np.zeros((5, 2, 3)), frame_time=0.1)
