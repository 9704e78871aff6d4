"""Stage ``study``: one table of every study point on the plan's validation split (WER and CER per variant)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqmask.eval.wer import METRICS
from seqmask.experiment.tables import study_table
from seqmask.speech.config import BASELINE

if TYPE_CHECKING:
    from seqmask.experiment.study import StudyPlan
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``study.md`` (also ``summary.md``) and ``study.json`` (every run's results and every scorer's summary)."""
    plan: StudyPlan = ctx.config["plan"]
    runs = {point: _read_json(ctx.input_path(f"report-{point}") / "runs.json") for point in plan.points}
    scorers = {point: _read_json(ctx.input_path(f"scorer-{point}") / "summary.json") for point in plan.points}
    columns = {
        "overrides": {p: ", ".join(f"{k}={v}" for k, v in o.items()) or "(preset)" for p, o in plan.points.items()},
        "scorer valid CER %": {p: _cell(s.get("valid_cer")) for p, s in scorers.items()},
    }
    seeds = ", ".join(map(str, plan.seeds))
    lines = [f"# Ask2Mask study on `{plan.split}` (seeds {seeds}; mean ± std over seeds, rel. = change against {BASELINE})"]
    for metric in METRICS:
        table = study_table(runs, metric, group=plan.split, baseline=BASELINE, columns=columns)
        lines += ["", f"{metric.label}:", "", table]
    study = "\n".join(lines) + "\n"
    (ctx.out / "study.md").write_text(study, encoding="utf-8")
    (ctx.out / "summary.md").write_text(study, encoding="utf-8")
    (ctx.out / "study.json").write_text(json.dumps({"runs": runs, "scorers": scorers}, indent=1, sort_keys=True), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
