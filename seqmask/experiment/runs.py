"""Variants x seeds: the runs of a comparison, each with a name that stage names are built from."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Run:
    """One training of one variant with one seed."""

    variant: str
    seed: int

    @property
    def name(self) -> str:
        """``ask2mask+utt``, seed 0 -> ``ask2mask-utt-s0``: letters, digits and dashes (stage names, Prefect keys)."""
        return f"{re.sub(r'[^a-z0-9]+', '-', self.variant.lower()).strip('-')}-s{self.seed}"


def expand(variants: Sequence[str], seeds: Sequence[int]) -> list[Run]:
    """Every variant with every seed, variants outermost."""
    runs = [Run(variant, seed) for variant in variants for seed in seeds]
    names = [run.name for run in runs]
    clash = sorted({name for name in names if names.count(name) > 1})
    if clash:
        raise ValueError(f"variants {list(variants)} give the same run name twice: {clash}")
    return runs


def offset_seed(train: Any, seed: int) -> Any:
    """A training config (any dataclass with ``seed``) whose seed is the preset's plus a run's."""
    return dataclasses.replace(train, seed=train.seed + seed)
