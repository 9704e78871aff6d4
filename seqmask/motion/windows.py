"""What ``motion-prep`` makes, read back from its files (:mod:`seqmask.motion.artifacts` names them): windows of a split
(normalised), their captions, the skeleton and the statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor

from seqmask.files import read_jsonl
from seqmask.motion.captions import TEMPLATES, captions
from seqmask.motion.prep import WindowRecord

TEMPLATE_COUNT = len(TEMPLATES)
"""Captions per window: one per template."""


@dataclass(frozen=True)
class Skeleton:
    """What the features were made from: joints, parents, body parts and their feature columns, rate and window."""

    joints: tuple[str, ...]
    parents: tuple[int, ...]
    parts: tuple[str, ...]
    part_columns: tuple[tuple[int, ...], ...]
    features: int
    fps: int
    window: int

    @classmethod
    def load(cls, path: Path) -> Skeleton:
        """The skeleton in a JSON file (``motion-prep``'s :data:`~seqmask.motion.artifacts.SKELETON`)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            tuple(data["joints"]),
            tuple(data["parents"]),
            tuple(data["parts"]),
            tuple(map(tuple, data["part_columns"])),
            data["features"],
            data["fps"],
            data["window"],
        )

    def identity(self) -> dict:
        """What a model trained on these features must match."""
        return {
            "joints": list(self.joints),
            "parts": list(self.parts),
            "features": self.features,
            "fps": self.fps,
            "window": self.window,
        }


@dataclass(frozen=True)
class Normalizer:
    """Per-feature mean and std of the training windows."""

    mean: Tensor  # (D,)
    std: Tensor  # (D,)

    @classmethod
    def load(cls, path: Path) -> Normalizer:
        """The statistics of a safetensors file of ``mean`` and ``std``."""
        stats = load_file(str(path))
        return cls(stats["mean"], stats["std"])

    def normalize(self, features: Tensor) -> Tensor:
        return (features - self.mean.to(features.device)) / self.std.to(features.device)

    def denormalize(self, features: Tensor) -> Tensor:
        return features * self.std.to(features.device) + self.mean.to(features.device)


@dataclass(frozen=True)
class Windows:
    """The windows of one split: normalised features ``(N, T, D)``, real lengths ``(N,)`` and their records."""

    features: Tensor
    lengths: Tensor
    records: list[WindowRecord]

    def captions(self, index: int) -> list[str]:
        """Every template's caption of window ``index``."""
        record = self.records[index]
        return captions(record.content, record.style)

    def caption(self, index: int) -> str:
        """The evaluation caption (the first template)."""
        return self.captions(index)[0]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(r.content, r.style) for r in self.records]

    @property
    def padding(self) -> Tensor:
        """``(N, T)`` True at padded frames."""
        return torch.arange(self.features.size(1))[None, :] >= self.lengths[:, None]


def load_windows(tensors: Path, records: Path, normalizer: Normalizer) -> Windows:
    """The windows of a split from its safetensors file of raw ``features`` and ``lengths`` and its JSON lines of window
    records, normalised with ``normalizer``."""
    found = load_file(str(tensors))
    return Windows(normalizer.normalize(found["features"]), found["lengths"], read_jsonl(records, WindowRecord))
