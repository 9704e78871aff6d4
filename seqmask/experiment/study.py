"""Study plans: the same experiment at several settings (points), read on a validation split.

A plan (YAML, e.g. ``configs/studies/ask2mask.yaml``) names points, each a set of
config overrides applied on top of the run's config::

    seeds: [0, 1]
    variants: [random, ask2mask+utt]
    split: valid
    points:
      paper: {}
      nonblank: {speech.scores.confidence: nonblank}

Every point runs its pipeline for ``variants`` x ``seeds``; stages whose config
slice a point leaves unchanged are reused from the store. A study chooses
settings, so it reads the validation split, never a test split.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seqmask.config import load_yaml, with_overrides
from seqmask.schema import ConfigError

if TYPE_CHECKING:
    from seqmask.app.root import ExperimentConfig

POINT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
"""Point names become pipeline and stage names and Prefect artifact keys (lowercase, digits, dashes)."""
PLAN_KEYS = ("seeds", "variants", "split", "points")


@dataclass(frozen=True, kw_only=True)
class StudyPlan:
    """Points (name -> config overrides) run for every variant and seed, read on ``split``."""

    points: Mapping[str, Mapping[str, Any]]
    seeds: tuple[int, ...]
    variants: tuple[str, ...]
    split: str = "valid"

    def to_dict(self) -> dict[str, Any]:
        """The plan as :func:`plan_from_dict` reads it (a flow's parameter)."""
        return {
            "points": {p: dict(o) for p, o in self.points.items()},
            "seeds": list(self.seeds),
            "variants": list(self.variants),
            "split": self.split,
        }


def load_study(path: Path, *, variants: Sequence[str], baseline: str, default_variants: Sequence[str]) -> StudyPlan:
    """The plan in ``path``, whose variants (``default_variants`` when it names none) must be among ``variants``
    and include ``baseline``."""
    if not path.is_file():
        raise ConfigError(f"study plan {path}: no such file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"study plan {path}: not valid YAML: {err}") from err
    return plan_from_dict(
        data, variants=variants, baseline=baseline, default_variants=default_variants, where=f"study plan {path}"
    )


def plan_from_dict(
    data: Any, *, variants: Sequence[str], baseline: str, default_variants: Sequence[str], where: str = "study plan"
) -> StudyPlan:
    """A plan from parsed YAML; a malformed one raises ``ConfigError`` naming ``where`` and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {PLAN_KEYS}, found {type(data).__name__}")
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of: {', '.join(PLAN_KEYS)})")
    points = data.get("points")
    if not isinstance(points, dict) or not points:
        raise ConfigError(f"{where}: points: expected a mapping of point name -> overrides, found {points!r}")
    for name, overrides in points.items():
        if not isinstance(name, str) or not POINT_NAME.fullmatch(name):
            raise ConfigError(f"{where}: point name {name!r}: expected lowercase letters, digits and dashes")
        if not isinstance(overrides, dict) and overrides is not None:
            raise ConfigError(f"{where}: points.{name}: expected a mapping of config key -> value, found {overrides!r}")
    seeds = data.get("seeds", [0, 1])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise ConfigError(f"{where}: seeds: expected a non-empty list of integers, found {seeds!r}")
    chosen = data.get("variants", list(default_variants))
    if not isinstance(chosen, list) or baseline not in chosen or not set(chosen) <= set(variants):
        raise ConfigError(
            f"{where}: variants: expected variants among {tuple(variants)} including the baseline {baseline!r}, found "
            f"{chosen!r}"
        )
    split = data.get("split", "valid")
    if not isinstance(split, str) or split.startswith("test"):
        raise ConfigError(
            f"{where}: split: a study chooses settings, so it reads 'valid', never a test split; found {split!r}"
        )
    return StudyPlan(
        points={name: dict(overrides or {}) for name, overrides in points.items()},
        seeds=tuple(seeds),
        variants=tuple(chosen),
        split=split,
    )


def point_configs(config: ExperimentConfig, plan: StudyPlan) -> dict[str, ExperimentConfig]:
    """``config`` with each point's overrides applied, in plan order: all are checked before anything runs."""
    return {
        point: with_overrides(config, overrides, origin=f"study point {point!r}")
        for point, overrides in plan.points.items()
    }
