"""Ask2Mask studies: the same experiment at several settings, compared on the ``valid`` split.

A study plan (YAML, e.g. ``configs/studies/ask2mask.yaml``) names points, each a
set of config overrides applied on top of the preset::

    seeds: [0, 1]
    variants: [random, ask2mask+utt]
    split: valid
    points:
      paper: {}
      nonblank: {speech.scorer.confidence: nonblank}
      random-share-50: {speech.pretrain.mask.random_share: 0.5}

Every point runs the ``speech`` pipeline for ``variants`` x ``seeds``; stages whose
config slice a point leaves unchanged (data, features, the random baseline when only
Ask2Mask's own parameters change) are reused from the store. The ``study`` stage then
tabulates each point on ``split``. A study chooses settings, so it reads the
validation split, never a test split.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from seqmask.config import ConfigError, ExperimentConfig, load_config, load_yaml, parse_overrides
from seqmask.eval.wer import study_table
from seqmask.speech.pretrain import MASKERS
from seqmask.stage import Pipeline, Stage, StageContext

POINT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
"""Point names become stage names (``report-<point>``) and Prefect artifact keys (lowercase, digits, dashes)."""
PLAN_KEYS = ("seeds", "variants", "split", "points")
BASELINE = "random"
"""The variant every point is compared against; a plan must run it."""
DEFAULT_PLAN = "configs/studies/ask2mask.yaml"
"""The plan ``seqmask run study`` runs without ``--plan`` (relative to the project root)."""


@dataclass(frozen=True, kw_only=True)
class StudyPlan:
    """Points (name -> config overrides) run for every variant and seed, read on ``split``."""

    points: Mapping[str, Mapping[str, Any]]
    seeds: tuple[int, ...] = (0, 1)
    variants: tuple[str, ...] = ("random", "ask2mask+utt")
    split: str = "valid"


def load_study(path: Path) -> StudyPlan:
    """The plan in ``path``; a malformed plan raises ``ConfigError`` naming the file and the key."""
    if not path.is_file():
        raise ConfigError(f"study plan {path}: no such file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"study plan {path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"study plan {path}: expected a mapping with keys {PLAN_KEYS}, found {type(data).__name__}")
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise ConfigError(f"study plan {path}: unknown key {unknown[0]!r} (expected one of: {', '.join(PLAN_KEYS)})")
    points = data.get("points")
    if not isinstance(points, dict) or not points:
        raise ConfigError(f"study plan {path}: points: expected a mapping of point name -> overrides, found {points!r}")
    for name, overrides in points.items():
        if not isinstance(name, str) or not POINT_NAME.fullmatch(name):
            raise ConfigError(f"study plan {path}: point name {name!r}: expected lowercase letters, digits and dashes")
        if not isinstance(overrides, dict) and overrides is not None:
            raise ConfigError(f"study plan {path}: points.{name}: expected a mapping of config key -> value, found {overrides!r}")
    seeds = data.get("seeds", [0, 1])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"study plan {path}: seeds: expected a non-empty list of integers, found {seeds!r}")
    variants = data.get("variants", ["random", "ask2mask+utt"])
    allowed = ("none", *MASKERS)
    if not isinstance(variants, list) or BASELINE not in variants or not set(variants) <= set(allowed):
        raise ConfigError(f"study plan {path}: variants: expected variants among {allowed} including the baseline {BASELINE!r}, found {variants!r}")
    split = data.get("split", "valid")
    if not isinstance(split, str) or split.startswith("test"):
        raise ConfigError(f"study plan {path}: split: a study chooses settings, so it reads 'valid', never a test split; found {split!r}")
    return StudyPlan(
        points={name: dict(overrides or {}) for name, overrides in points.items()},
        seeds=tuple(seeds), variants=tuple(variants), split=split,
    )


def point_config(preset: str | Path, overrides: list[str], plan: StudyPlan, point: str) -> ExperimentConfig:
    """The preset with the run's ``overrides`` and then the point's applied; bad keys raise ``ConfigError`` naming the point."""
    try:
        return load_config(preset, {**parse_overrides(overrides), **plan.points[point]})
    except ConfigError as err:
        raise ConfigError(f"study point {point!r}: {err}") from err


def point_configs(preset: str | Path, overrides: list[str], plan: StudyPlan) -> dict[str, ExperimentConfig]:
    """:func:`point_config` of every point, in plan order: all are checked before anything runs."""
    return {point: point_config(preset, overrides, plan, point) for point in plan.points}


def study_pipeline(plan: StudyPlan) -> Pipeline:
    """The ``study`` stage, reading every point's ``report-<point>`` and ``scorer-<point>`` artifacts."""
    external = tuple(f"{kind}-{point}" for point in plan.points for kind in ("report", "scorer"))
    stage = Stage(
        "study", 1, build_study, config_of=lambda c: {"plan": plan}, inputs=external, modules=("seqmask.eval.wer",),
    )
    return Pipeline("study", (stage,), external=external)


def build_study(ctx: StageContext) -> None:
    """``study.md`` (WER and CER per point on the plan's split) and ``study.json`` (every run's results)."""
    plan: StudyPlan = ctx.config["plan"]
    runs = {point: _read_json(ctx.input_path(f"report-{point}") / "runs.json") for point in plan.points}
    scorers = {point: _read_json(ctx.input_path(f"scorer-{point}") / "summary.json") for point in plan.points}
    columns = {
        "overrides": {p: ", ".join(f"{k}={v}" for k, v in o.items()) or "(preset)" for p, o in plan.points.items()},
        "scorer valid CER %": {p: _cell(s.get("valid_cer")) for p, s in scorers.items()},
    }
    seeds = ", ".join(map(str, plan.seeds))
    lines = [f"# Ask2Mask study on `{plan.split}` (seeds {seeds}; mean ± std over seeds, rel. = change against random)"]
    for metric in ("wer", "cer"):
        table = study_table(runs, group=plan.split, baseline=BASELINE, metric=metric, columns=columns)
        lines += ["", f"{metric.upper()} %:", "", table]
    (ctx.out / "study.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ctx.out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ctx.out / "study.json").write_text(json.dumps({"runs": runs, "scorers": scorers}, indent=1, sort_keys=True), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
