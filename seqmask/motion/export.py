"""Generated motions out of the model's space: normalised features to joint positions, positions to a BVH on the
clips' own hierarchy (inverse kinematics), and a stick-figure GIF: what ``render`` and ``seqmask generate`` write."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from seqmask.motion.bvh import read_bvh, write_bvh
from seqmask.motion.features import to_positions
from seqmask.motion.kinematics import joint_positions, positions_to_motion
from seqmask.motion.windows import Normalizer


def positions_of(features: Tensor, normalizer: Normalizer) -> np.ndarray:
    """``(..., T, D)`` normalised features -> ``(..., T, J, 3)`` joint positions in metres."""
    return to_positions(normalizer.denormalize(features).numpy().astype(np.float64))


def export_bvh(
    path: Path, positions: np.ndarray, joints: Sequence[str], template: Path, *, fps: int, scale: float
) -> Path:
    """Write ``positions`` ``(T, J, 3)`` of the feature joints ``joints`` as a BVH on ``template``'s hierarchy; joints
    the features leave out (Bandai's ground helper ``joint_Root``) stay at the origin. The file is read back to check
    it."""
    skeleton = read_bvh(template).skeleton
    full = np.zeros((len(positions), len(skeleton.names), 3))  # (T, J_bvh, 3)
    for j, name in enumerate(joints):
        full[:, skeleton.index(name)] = positions[:, j]
    write_bvh(path, positions_to_motion(skeleton, full, frame_time=1.0 / fps, scale=scale))
    read_back = joint_positions(read_bvh(path), scale=scale)  # (T, J_bvh, 3)
    if read_back.shape != full.shape:
        raise ValueError(
            f"{path}: read back {read_back.shape[0]} frames of {read_back.shape[1]} joints, wrote {full.shape[:2]}"
        )
    return path
