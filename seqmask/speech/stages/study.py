"""Stage ``speech-study``: one table of every study point on the plan's validation split (WER and CER per variant)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.eval.wer import METRICS
from seqmask.experiment.comparison import SUMMARY
from seqmask.experiment.tables import study_table
from seqmask.speech import artifacts, readers
from seqmask.speech.config import BASELINE

if TYPE_CHECKING:
    from seqmask.experiment.study import StudyPlan
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (artifacts.POINT_REPORT, artifacts.POINT_SCORER)
"""Both per point: ``speech-report-<point>`` and ``speech-scorer-<point>`` of every point
(:func:`seqmask.speech.artifacts.run_role`)."""
WRITES = (artifacts.STUDY_TABLE, SUMMARY, artifacts.STUDY_RESULTS)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The study plan."""

    plan: StudyPlan
    """Its points (name -> overrides), variants, seeds and the split it is read on."""


def build(ctx: StageContext) -> None:
    """The study table (also the summary) and every run's results and every scorer's summary."""
    plan = ctx.config.plan
    runs = {point: readers.read_runs(_input(ctx, artifacts.POINT_REPORT, point)) for point in plan.points}
    scorers = {point: readers.read_summary(_input(ctx, artifacts.POINT_SCORER, point)) for point in plan.points}
    columns = {
        "overrides": {p: ", ".join(f"{k}={v}" for k, v in o.items()) or "(preset)" for p, o in plan.points.items()},
        "scorer valid CER %": {p: _cell(s.get("valid_cer")) for p, s in scorers.items()},
    }
    seeds = ", ".join(map(str, plan.seeds))
    lines = [
        f"# Ask2Mask study on `{plan.split}` (seeds {seeds}; mean ± std over seeds, rel. = change against {BASELINE})"
    ]
    for metric in METRICS:
        table = study_table(runs, metric, group=plan.split, baseline=BASELINE, columns=columns)
        lines += ["", f"{metric.label}:", "", table]
    study = "\n".join(lines) + "\n"
    (ctx.out / artifacts.STUDY_TABLE).write_text(study, encoding="utf-8")
    (ctx.out / SUMMARY).write_text(study, encoding="utf-8")
    results = json.dumps({"runs": runs, "scorers": scorers}, indent=1, sort_keys=True)
    (ctx.out / artifacts.STUDY_RESULTS).write_text(results, encoding="utf-8")


def _input(ctx: StageContext, role: str, point: str) -> Path:
    """The artifact of the point's stage ``role``."""
    return ctx.input_path(artifacts.run_role(role, point))


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
