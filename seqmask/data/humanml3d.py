"""HumanML3D motion-text clips, for users who have the dataset (it cannot be shipped): features, captions, splits.

The layout (Guo et al. 2022)::

    root/new_joint_vecs/<id>.npy   (T, 263) float features at 20 fps
    root/texts/<id>.txt            lines ``caption#tokens#start#end``, start/end in seconds (0.0 = whole clip)
    root/train.txt, val.txt, test.txt    ids, one a line
    root/Mean.npy, root/Std.npy    (263,) feature statistics

A caption with a time span (``start``/``end`` not both 0) describes part of the clip; as in the reference loader it
becomes a clip of its own, ``<id>@<start>-<end>``, holding those frames. A clip that cannot be used is returned as a
:class:`~seqmask.data.rejects.Reject` naming it by ``id``, never dropped silently; its ``reason`` is one of
:data:`REJECT_REASONS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqmask.data.rejects import Reject

FEATURES = 263
FPS = 20.0
SPLITS = ("train", "val", "test")
REJECT_REASONS = (
    "missing_features",
    "unreadable",
    "wrong_width",
    "not_finite",
    "no_captions",
    "bad_caption",
    "too_short",
)


@dataclass(frozen=True, eq=False)
class HumanML3DClip:
    """One clip: its id, ``features`` ``(T, 263)`` float32 and its captions (at least one)."""

    id: str
    features: np.ndarray
    captions: tuple[str, ...]


class _Rejected(Exception):
    """A clip that cannot be used: the file at fault, why (a code) and what was found."""

    def __init__(self, file: Path, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.file = file
        self.code = code
        self.detail = detail


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path}: expected the HumanML3D {what}, found nothing there")
    return path


def read_split(root: str | Path, split: str) -> list[str]:
    """The ids listed in ``root/<split>.txt``, in file order, blank lines skipped and repeats kept once."""
    if split not in SPLITS:
        raise ValueError(f"HumanML3D split: expected one of {SPLITS}, found {split!r}")
    root = _existing(Path(root), "root directory")
    path = _existing(root / f"{split}.txt", f"{split} split file (ids, one a line)")
    return list(dict.fromkeys(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()))


def read_captions(path: Path) -> list[tuple[str, float, float]]:
    """``(caption, start, end)`` for each line of a HumanML3D text file; a malformed line raises ValueError naming
    it."""
    captions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rsplit("#", 3)  # a caption may itself hold '#'; tokens, start and end do not
        if len(fields) != 4:
            raise ValueError(
                f"{path}:{number}: expected 'caption#tokens#start#end', found {len(fields)} '#'-separated fields"
            )
        try:
            start, end = float(fields[2]), float(fields[3])
        except ValueError:
            raise ValueError(
                f"{path}:{number}: expected start and end seconds, found {fields[2]!r} and {fields[3]!r}"
            ) from None
        # the reference loader reads a NaN time as 0.0 (whole clip); some released files hold them
        start, end = (0.0 if math.isnan(t) else t for t in (start, end))
        if not fields[0].strip():
            raise ValueError(f"{path}:{number}: expected a caption before the first '#', found an empty one")
        captions.append((fields[0].strip(), start, end))
    return captions


def _features(path: Path) -> np.ndarray:
    if not path.is_file():
        raise _Rejected(path, "missing_features", "no feature file")
    try:
        features = np.load(path)
    except (OSError, ValueError) as err:
        raise _Rejected(path, "unreadable", str(err)) from None
    if features.ndim != 2 or features.shape[1] != FEATURES:
        raise _Rejected(path, "wrong_width", f"expected (T, {FEATURES}) features, found shape {features.shape}")
    if not np.issubdtype(features.dtype, np.number):
        raise _Rejected(path, "unreadable", f"expected numbers, found dtype {features.dtype}")
    features = features.astype(np.float32)  # (T, 263)
    bad = ~np.isfinite(features).all(axis=1)  # (T,)
    if bad.any():
        detail = f"NaN or infinite features in {int(bad.sum())} of {len(bad)} frames, first frame {int(bad.argmax())}"
        raise _Rejected(path, "not_finite", detail)
    return features


def _clip_parts(clip_id: str, root: Path, min_frames: int) -> list[HumanML3DClip | Reject]:
    """The clip (whole-clip captions) and one clip per captioned span, or rejects for those that cannot be used."""
    feature_path = root / "new_joint_vecs" / f"{clip_id}.npy"
    text_path = root / "texts" / f"{clip_id}.txt"
    try:
        features = _features(feature_path)  # (T, 263)
        if not text_path.is_file():
            raise _Rejected(text_path, "no_captions", "no text file")
        try:
            captions = read_captions(text_path)
        except (ValueError, UnicodeDecodeError) as err:
            raise _Rejected(text_path, "bad_caption", str(err)) from None
        if not captions:
            raise _Rejected(text_path, "no_captions", "the text file holds no caption lines")
    except _Rejected as rejected:
        return [Reject(origin=str(rejected.file), reason=rejected.code, detail=rejected.detail, id=clip_id)]

    spans: dict[tuple[float, float], list[str]] = {}
    for caption, start, end in captions:
        spans.setdefault((start, end), []).append(caption)
    parts: list[HumanML3DClip | Reject] = []
    for (start, end), texts in spans.items():
        whole = start == 0.0 and end == 0.0
        part_id = clip_id if whole else f"{clip_id}@{start:g}-{end:g}"
        part = features if whole else features[int(start * FPS) : int(end * FPS)]  # (T', 263)
        if len(part) < min_frames:
            span = "" if whole else f" between {start:g} s and {end:g} s"
            detail = f"{len(part)} frames{span}, expected at least {min_frames}"
            parts.append(Reject(origin=str(feature_path), reason="too_short", detail=detail, id=part_id))
        else:
            parts.append(HumanML3DClip(part_id, part, tuple(texts)))
    return parts


def read_humanml3d(root: str | Path, split: str, *, min_frames: int = 40) -> tuple[list[HumanML3DClip], list[Reject]]:
    """The clips of one split (whole clips and captioned spans) and the rejects (each naming the clip by ``id``).

    ``min_frames`` (at 20 fps; the reference loader's 40 is 2 s) rejects shorter clips as ``too_short``.
    """
    ids = read_split(root, split)
    root = Path(root)
    clips: list[HumanML3DClip] = []
    rejects: list[Reject] = []
    for clip_id in ids:
        for part in _clip_parts(clip_id, root, min_frames):
            (clips if isinstance(part, HumanML3DClip) else rejects).append(part)
    return clips, rejects


def read_statistics(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``Mean.npy`` and ``Std.npy`` as float32 ``(263,)``; a wrong shape, a non-finite value or a std <= 0 raises
    ValueError."""
    root = _existing(Path(root), "root directory")
    arrays = []
    for name in ("Mean.npy", "Std.npy"):
        path = _existing(root / name, f"feature statistics {name}")
        array = np.load(path).astype(np.float32)  # (263,)
        if array.shape != (FEATURES,):
            raise ValueError(f"{path}: expected shape ({FEATURES},), found {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(
                f"{path}: expected finite values, found {int((~np.isfinite(array)).sum())} NaN or infinite"
            )
        arrays.append(array)
    mean, std = arrays
    if (std <= 0).any():
        raise ValueError(
            f"{root / 'Std.npy'}: expected positive standard deviations, found {int((std <= 0).sum())} <= 0 "
            f"(first at feature {int(np.argmax(std <= 0))})"
        )
    return mean, std
