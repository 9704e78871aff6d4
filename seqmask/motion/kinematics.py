"""Forward kinematics of BVH motion, resampling joint trajectories in time, and inverse kinematics for BVH export.

Conventions (those of BVH): rotation channels are Euler angles in degrees, applied in the order the joint lists them
as intrinsic rotations, so a joint with ``Zrotation Xrotation Yrotation`` has local rotation ``Rz @ Rx @ Ry``; a
joint's global rotation is its parent's global rotation times its local one, and its position is its parent's
position plus the parent's global rotation applied to its translation. The translation is the joint's ``OFFSET``,
with each position channel it has replacing that component of the offset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqmask.motion.bvh import POSITION_CHANNELS, ROTATION_CHANNELS, Motion, Skeleton

_AXIS = {"X": 0, "Y": 1, "Z": 2}
_DEGENERATE = 1e-9
"""Vectors shorter than this (file units) carry no direction."""


def axis_rotations(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` about axis 0, 1 or 2 (x, y, z) by ``degrees`` ``(...)``, right-handed."""
    radians = np.radians(degrees)  # (...)
    cos, sin = np.cos(radians), np.sin(radians)
    i, k = (axis + 1) % 3, (axis + 2) % 3
    out = np.zeros(radians.shape + (3, 3))  # (..., 3, 3)
    out[..., axis, axis] = 1.0
    out[..., i, i] = cos
    out[..., k, k] = cos
    out[..., i, k] = -sin
    out[..., k, i] = sin
    return out


def euler_to_matrix(degrees: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of intrinsic Euler angles ``(..., len(order))`` in degrees, ``order`` like
    ``"ZXY"``."""
    out = np.broadcast_to(np.eye(3), degrees.shape[:-1] + (3, 3))  # (..., 3, 3)
    for n, axis in enumerate(order):
        out = out @ axis_rotations(_AXIS[axis], degrees[..., n])
    return out


def matrix_to_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles ``(..., 3)`` in degrees (the inverse of :func:`euler_to_matrix`) for any of the 6 orders.

    The middle angle lies in [-90, 90]; at gimbal lock (middle angle +-90) the third angle is set to 0.
    """
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"Euler order: expected a permutation of 'XYZ', found {order!r}")
    i, j, k = (_AXIS[axis] for axis in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for the cyclic orders XYZ, YZX, ZXY
    r = np.asarray(matrices, dtype=np.float64)  # (..., 3, 3)
    second = np.arcsin(np.clip(sign * r[..., i, k], -1.0, 1.0))  # (...)
    first = np.arctan2(-sign * r[..., j, k], r[..., k, k])
    third = np.arctan2(-sign * r[..., i, j], r[..., i, i])
    locked = np.hypot(r[..., i, i], r[..., i, j]) < 1e-7  # cos(second) ~ 0: only first +- third is defined
    first = np.where(locked, np.arctan2(sign * r[..., k, j], r[..., j, j]), first)
    third = np.where(locked, 0.0, third)
    return np.degrees(np.stack([first, second, third], axis=-1))  # (..., 3)


def _rotation_order(skeleton: Skeleton, j: int) -> str:
    """The joint's rotation channels as an axis string (``"ZXY"``), in file order."""
    return "".join(name[0] for name in skeleton.channels[j] if name in ROTATION_CHANNELS)


def local_transforms(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Each joint's local rotation ``(F, J, 3, 3)`` and translation ``(F, J, 3)`` (file units) in every frame."""
    skeleton = motion.skeleton
    frames, joints = motion.frame_count, len(skeleton.names)
    rotations = np.empty((frames, joints, 3, 3))  # (F, J, 3, 3)
    translations = np.empty((frames, joints, 3))  # (F, J, 3)
    for j in range(joints):
        values = motion.values[:, skeleton.channel_slice(j)]  # (F, C_j)
        names = skeleton.channels[j]
        rotation_columns = [n for n, name in enumerate(names) if name in ROTATION_CHANNELS]
        rotations[:, j] = euler_to_matrix(values[:, rotation_columns], _rotation_order(skeleton, j))
        translations[:, j] = skeleton.offsets[j]
        for n, name in enumerate(names):
            if name in POSITION_CHANNELS:
                translations[:, j, POSITION_CHANNELS.index(name)] = values[:, n]
    return rotations, translations


def global_transforms(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Each joint's global rotation ``(F, J, 3, 3)`` and position ``(F, J, 3)`` in file units."""
    skeleton = motion.skeleton
    local_rotations, translations = local_transforms(motion)
    rotations = np.empty_like(local_rotations)  # (F, J, 3, 3)
    positions = np.empty_like(translations)  # (F, J, 3)
    for j, parent in enumerate(skeleton.parents):
        if parent == -1:
            rotations[:, j] = local_rotations[:, j]
            positions[:, j] = translations[:, j]
        else:
            rotations[:, j] = rotations[:, parent] @ local_rotations[:, j]
            positions[:, j] = positions[:, parent] + (rotations[:, parent] @ translations[:, j, :, None])[..., 0]
    return rotations, positions


def joint_positions(motion: Motion, *, scale: float = 0.01) -> np.ndarray:
    """Global joint positions ``(F, J, 3)``: file units times ``scale`` (0.01 turns centimetres into metres)."""
    return global_transforms(motion)[1] * scale


def resample(positions: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Linearly interpolate ``(F, J, 3)`` trajectories from ``source_fps`` to about ``target_fps``: ``(F', J, 3)``.

    The first and last frames are kept and ``F' - 1 = round((F - 1) * target_fps / source_fps)`` intervals span the
    same duration, so the effective rate differs from ``target_fps`` by less than half a frame over the clip.
    """
    positions = np.asarray(positions, dtype=np.float64)  # (F, J, 3)
    if positions.ndim != 3 or positions.shape[0] < 1 or positions.shape[2] != 3:
        raise ValueError(f"resample: expected positions of shape (F >= 1, J, 3), found {positions.shape}")
    if not (source_fps > 0 and target_fps > 0):
        raise ValueError(f"resample: expected positive frame rates, found source {source_fps}, target {target_fps}")
    frames = positions.shape[0]
    count = round((frames - 1) * target_fps / source_fps) + 1
    times = np.linspace(0.0, frames - 1, count)  # (F',) in source frames
    low = np.minimum(np.floor(times).astype(int), frames - 1)  # (F',)
    high = np.minimum(low + 1, frames - 1)
    weight = (times - low)[:, None, None]  # (F', 1, 1)
    return (1.0 - weight) * positions[low] + weight * positions[high]


def translated_joints(skeleton: Skeleton) -> tuple[str, ...]:
    """The joints :func:`positions_to_motion` places by position channels by default: the root, then down the chain
    of only children that have all three position channels (a placement node above the hips, as in the Bandai-Namco
    files, whose ``joint_Root`` stays at the origin while ``Hips`` carries the body's position)."""
    roots = [j for j, parent in enumerate(skeleton.parents) if parent == -1]
    names = [skeleton.names[j] for j in roots]
    chain = roots[0] if len(roots) == 1 else None
    while chain is not None:
        children = skeleton.children(chain)
        chain = (
            children[0]
            if len(children) == 1 and set(POSITION_CHANNELS) <= set(skeleton.channels[children[0]])
            else None
        )
        if chain is not None:
            names.append(skeleton.names[chain])
    return tuple(names)


def _minimal_rotations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotations ``(F, 3, 3)`` taking unit vectors ``a`` ``(F, 3)`` to unit vectors ``b`` ``(F, 3)``."""
    axis = np.cross(a, b)  # (F, 3), |axis| = sin(angle)
    cos = np.einsum("fi,fi->f", a, b)  # (F,)
    sin = np.linalg.norm(axis, axis=-1)  # (F,)
    unit = axis / np.maximum(sin, _DEGENERATE)[:, None]  # (F, 3)
    # opposite vectors: turn half way round any axis perpendicular to a
    opposite = (sin < 1e-9) & (cos < 0)
    if opposite.any():
        helper = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])  # (F, 3)
        perpendicular = np.cross(a, helper)
        perpendicular /= np.linalg.norm(perpendicular, axis=-1, keepdims=True)
        unit = np.where(opposite[:, None], perpendicular, unit)
    cross = np.zeros(a.shape[:1] + (3, 3))  # (F, 3, 3) skew matrix of the unit axis
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -unit[:, 2], unit[:, 1], -unit[:, 0]
    cross -= np.swapaxes(cross, 1, 2)
    sin_angle = np.where(opposite, 0.0, sin)[:, None, None]
    return np.eye(3) + sin_angle * cross + (1.0 - cos)[:, None, None] * (cross @ cross)


def _kabsch_rotations(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Global rotations ``(F, 3, 3)`` best mapping rest child vectors ``(K, 3)`` onto the directions of ``(F, K, 3)``.

    The Kabsch (SVD) fit of unit directions weighted by rest length: generated bone lengths need not be the
    skeleton's. A child sitting on the joint in some frame counts for nothing there.
    """
    lengths = np.linalg.norm(current, axis=-1, keepdims=True)  # (F, K, 1)
    targets = np.where(lengths > _DEGENERATE, current / np.maximum(lengths, _DEGENERATE), 0.0)  # (F, K, 3)
    rest_lengths = np.linalg.norm(rest, axis=-1, keepdims=True)  # (K, 1)
    covariance = np.einsum("fki,kj->fij", rest_lengths * targets, rest / rest_lengths)  # (F, 3, 3)
    u, _, vt = np.linalg.svd(covariance)
    flip = np.sign(np.linalg.det(u @ vt))  # (F,) keep a proper rotation, not a reflection
    u[:, :, 2] *= np.where(flip == 0, 1.0, flip)[:, None]
    return u @ vt


def _swing_rotations(rest: np.ndarray, current: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Global rotations ``(F, 3, 3)`` turning one rest child vector ``(3,)`` onto the directions of ``current``
    ``(F, 3)``.

    The local rotation (in the ``parent`` ``(F, 3, 3)`` frame) starts as the minimal rotation from the rest direction
    to the first frame's, by way of the clip's mean direction (the rest pose may point a bone where it never goes:
    the Bandai legs point up at rest); each later frame adds the minimal rotation from the previous frame's direction
    to its own. So the unobservable twist about the bone follows the parent and changes no more than the bone's
    direction does, never flipping where a swing from a fixed reference would pass its antipode. A frame whose child
    sits on the joint keeps the previous direction.
    """
    frames = current.shape[0]
    local = np.einsum("fji,fj->fi", parent, current)  # (F, 3) parent^T @ current: in the parent's frame
    lengths = np.linalg.norm(local, axis=-1)  # (F,)
    defined = lengths > _DEGENERATE
    if not defined.any():
        return parent.copy()
    latest = np.maximum.accumulate(np.where(defined, np.arange(frames), -1))  # (F,) last defined frame so far
    latest = np.where(latest < 0, int(np.argmax(defined)), latest)
    directions = local[latest] / lengths[latest, None]  # (F, 3)
    rest_unit = rest / np.linalg.norm(rest)  # (3,)
    mean = directions.sum(axis=0)  # (3,)
    to_mean = np.eye(3)  # (3, 3)
    if np.linalg.norm(mean) > _DEGENERATE:
        to_mean = _minimal_rotations(rest_unit[None], (mean / np.linalg.norm(mean))[None])[0]
    steps = _minimal_rotations(np.concatenate([(to_mean @ rest_unit)[None], directions[:-1]]), directions)  # (F, 3, 3)
    rotations = np.empty((frames, 3, 3))  # (F, 3, 3) local
    rotations[0] = steps[0] @ to_mean
    for t in range(1, frames):
        rotations[t] = steps[t] @ rotations[t - 1]
    return parent @ rotations


def positions_to_motion(
    skeleton: Skeleton,
    positions: np.ndarray,
    *,
    frame_time: float,
    scale: float = 0.01,
    translated: Sequence[str] | None = None,
) -> Motion:
    """Channel values for ``skeleton`` whose forward kinematics come close to joint ``positions`` ``(F, J, 3)``
    (metres).

    Joints in ``translated`` (default :func:`translated_joints`: the root and a placement chain below it) are placed
    exactly by their position channels; every other joint keeps its skeleton offset, so bone lengths are the
    skeleton's. Each joint's global rotation best maps its rest child offsets onto the directions from its
    reconstructed position to its children's target positions: the Kabsch fit when the offsets span a plane
    (:func:`_kabsch_rotations`), else the swing of its longest child's offset, carried from frame to frame so the twist
    stays continuous (:func:`_swing_rotations`). Its local rotation ``parent_global^T @ global`` becomes Euler angles
    in the joint's own channel order. A joint without children keeps its parent's rotation (identity local rotation);
    a joint with children to turn needs all three rotation channels.
    """
    positions = np.asarray(positions, dtype=np.float64)  # (F, J, 3)
    joints = len(skeleton.names)
    if positions.ndim != 3 or positions.shape[1:] != (joints, 3) or positions.shape[0] < 1:
        raise ValueError(
            f"positions_to_motion: expected positions of shape (F >= 1, {joints}, 3), found {positions.shape}"
        )
    if not np.isfinite(positions).all():
        raise ValueError(
            f"positions_to_motion: expected finite positions, found {int((~np.isfinite(positions)).sum())} NaN or "
            "infinite"
        )
    translated = translated_joints(skeleton) if translated is None else tuple(translated)
    free = {skeleton.index(name) for name in translated}
    for j in free:
        if not set(POSITION_CHANNELS) <= set(skeleton.channels[j]):
            raise ValueError(
                f"positions_to_motion: translated joint {skeleton.names[j]!r} needs all three position channels, "
                f"found {skeleton.channels[j]}"
            )
    for j, parent in enumerate(skeleton.parents):
        if parent == -1 and j not in free:
            raise ValueError(
                f"positions_to_motion: root joint {skeleton.names[j]!r} must be translated to carry the root position"
            )

    target = positions / scale  # (F, J, 3) file units
    frames = positions.shape[0]
    rotations = np.empty((frames, joints, 3, 3))  # (F, J, 3, 3) global
    placed = np.empty((frames, joints, 3))  # (F, J, 3) reconstructed positions, file units
    translations = np.empty((frames, joints, 3))  # (F, J, 3) local translations
    identity = np.broadcast_to(np.eye(3), (frames, 3, 3))
    values = np.empty((frames, skeleton.channel_count))  # (F, C)
    for j, parent in enumerate(skeleton.parents):
        parent_rotation = identity if parent == -1 else rotations[:, parent]  # (F, 3, 3)
        parent_position = np.zeros((frames, 3)) if parent == -1 else placed[:, parent]  # (F, 3)
        if j in free:
            translations[:, j] = (np.swapaxes(parent_rotation, 1, 2) @ (target[:, j] - parent_position)[..., None])[
                ..., 0
            ]
        else:
            translations[:, j] = skeleton.offsets[j]
        placed[:, j] = parent_position + (parent_rotation @ translations[:, j, :, None])[..., 0]

        # children placed by their offsets, which this joint's rotation turns
        children = [
            c for c in skeleton.children(j) if c not in free and np.linalg.norm(skeleton.offsets[c]) > _DEGENERATE
        ]
        order = _rotation_order(skeleton, j)
        if not children:
            rotations[:, j] = parent_rotation
        elif len(order) != 3:
            raise ValueError(
                f"positions_to_motion: joint {skeleton.names[j]!r} needs 3 rotation channels to turn its children, "
                f"found {order!r}"
            )
        else:
            rest = skeleton.offsets[children]  # (K, 3)
            current = target[:, children] - placed[:, j, None]  # (F, K, 3)
            directions = rest / np.linalg.norm(rest, axis=-1, keepdims=True)  # (K, 3)
            singular = np.linalg.svd(directions, compute_uv=False)  # children along one line: one direction to fit
            if len(children) > 1 and singular[1] > 1e-6 * singular[0]:
                rotations[:, j] = _kabsch_rotations(rest, current)
            else:
                longest = int(np.argmax(np.linalg.norm(rest, axis=-1)))
                rotations[:, j] = _swing_rotations(rest[longest], current[:, longest], parent_rotation)

        local = np.swapaxes(parent_rotation, 1, 2) @ rotations[:, j]  # (F, 3, 3)
        angles = matrix_to_euler(local, order) if len(order) == 3 else np.zeros((frames, len(order)))  # (F, R) degrees
        columns = skeleton.channel_slice(j)
        for n, name in enumerate(skeleton.channels[j]):
            column = columns.start + n
            if name in POSITION_CHANNELS:
                values[:, column] = translations[:, j, POSITION_CHANNELS.index(name)]
            else:
                values[:, column] = angles[:, order.index(name[0])]
    return Motion(skeleton, frame_time, values)
