"""The text report reads each upstream stage by a role named like that stage (what every pipeline's stage modules
share is tested in tests/test_stage_modules.py)."""

from __future__ import annotations

from seqmask.app.root import load_experiment
from seqmask.stage import stage_name
from seqmask.text.artifacts import CONTINUAL, MINED, MLM_PHASE_MINED, run_role
from seqmask.text.pipeline import text_compare_plan, text_prep_plan
from seqmask.text.stages import continual, mine, report


def _stages():
    config = load_experiment("tiny")
    return [
        (stage, config)
        for plan in (text_compare_plan, text_prep_plan)
        for pipeline, _ in plan(config)
        for stage in pipeline.stages
    ]


def test_the_reports_roles_of_a_run_are_its_stage_names() -> None:
    [stage] = [stage for stage, _ in _stages() if stage.module == report.__name__]
    trained = stage_name(continual) + "-"
    runs = [name.removeprefix(trained) for name in stage.inputs.values() if name.startswith(trained)]
    assert sorted(runs) == ["lem-s0", "lem-s1", "mlm-s0", "mlm-s1"]
    per_run = {
        role: name
        for run in runs
        for role, name in (
            (run_role(CONTINUAL, run), stage_name(continual, run)),
            (run_role(MINED, run), stage_name(mine, run)),
            (run_role(MINED, f"{run}-{MLM_PHASE_MINED}"), stage_name(mine, f"{run}-{MLM_PHASE_MINED}")),
        )
    }
    assert per_run.items() <= stage.inputs.items()
    assert set(stage.inputs) - set(per_run) <= set(report.ROLES) and {CONTINUAL, MINED} <= set(report.ROLES)
    assert all(role == name for role, name in stage.inputs.items() if role.startswith("text-"))  # named like the stage
