"""Motion features from joint positions, and back: per frame the root's height, the root's ground velocity and every
other joint's position relative to the root's ground point, in metres (y up); and the body part of each column.

Layout of a frame's ``3 J`` values (J joints, joint 0 the root): ``[root y, root vx, root vz,
joint 1 xyz, ..., joint J-1 xyz]``. The root's velocity at frame t is its ground
displacement to frame t + 1 (the last frame repeats the one before), so integrating it
from the origin gives the trajectory back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ROOT_COLUMNS = 3
"""Root height and ground velocity (x, z)."""


def feature_count(joints: int) -> int:
    return ROOT_COLUMNS + 3 * (joints - 1)


def feature_names(joint_names: Sequence[str]) -> list[str]:
    """A name for each feature column: ``<root>.y``, ``<root>.vx``, ``<root>.vz``, then ``<joint>.x``, ``.y``,
    ``.z``."""
    root = joint_names[0]
    return [f"{root}.y", f"{root}.vx", f"{root}.vz"] + [f"{name}.{axis}" for name in joint_names[1:] for axis in "xyz"]


def to_features(positions: np.ndarray) -> np.ndarray:
    """``(F, J, 3)`` joint positions -> ``(F, 3 J)`` features."""
    if positions.ndim != 3 or positions.shape[2] != 3 or positions.shape[0] < 2:
        raise ValueError(f"expected joint positions (F >= 2, J, 3), found shape {positions.shape}")
    root = positions[:, 0]  # (F, 3)
    ground = root * np.array([1.0, 0.0, 1.0])  # (F, 3)
    velocity = np.diff(ground[:, [0, 2]], axis=0)  # (F - 1, 2)
    velocity = np.concatenate([velocity, velocity[-1:]], axis=0)  # (F, 2)
    relative = positions[:, 1:] - ground[:, None]  # (F, J - 1, 3)
    return np.concatenate([root[:, 1:2], velocity, relative.reshape(len(positions), -1)], axis=1).astype(np.float32)


def to_positions(features: np.ndarray) -> np.ndarray:
    """``(..., F, 3 J)`` features -> ``(..., F, J, 3)`` joint positions, the trajectory integrated from the origin."""
    height, velocity = features[..., 0], features[..., 1:3]  # (..., F), (..., F, 2)
    ground_xz = np.cumsum(velocity, axis=-2) - velocity  # (..., F, 2): position before each frame's step
    ground = np.stack([ground_xz[..., 0], np.zeros_like(height), ground_xz[..., 1]], axis=-1)  # (..., F, 3)
    relative = features[..., ROOT_COLUMNS:].reshape(*features.shape[:-1], -1, 3)  # (..., F, J - 1, 3)
    root = ground + np.stack([np.zeros_like(height), height, np.zeros_like(height)], axis=-1)  # (..., F, 3)
    return np.concatenate([root[..., None, :], relative + ground[..., None, :]], axis=-2)


def part_columns(joint_names: Sequence[str], parts: Mapping[str, Sequence[str]]) -> list[list[int]]:
    """The feature columns of each part (``parts``: part -> joint names; the root's columns go to the part holding joint
    0).

    Every joint must belong to exactly one part: an error names the joints that do not.
    """
    owner: dict[str, str] = {}
    for part, names in parts.items():
        for name in names:
            if name in owner:
                raise ValueError(
                    f"joint {name!r} is in body parts {owner[name]!r} and {part!r}: a joint belongs to one part"
                )
            owner[name] = part
    missing = [name for name in joint_names if name not in owner]
    unknown = sorted(set(owner) - set(joint_names))
    if missing or unknown:
        raise ValueError(
            f"motion.body_parts must hold each skeleton joint once: joints in no part {missing}, unknown joints "
            f"{unknown}"
        )
    columns: dict[str, list[int]] = {part: [] for part in parts}
    columns[owner[joint_names[0]]] += list(range(ROOT_COLUMNS))
    for joint, name in enumerate(joint_names[1:], start=1):
        start = ROOT_COLUMNS + 3 * (joint - 1)
        columns[owner[name]] += [start, start + 1, start + 2]
    return [columns[part] for part in parts]
