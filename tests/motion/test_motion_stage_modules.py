"""The motion report's roles of a run are that run's stage names (what every pipeline's stage modules share is tested
in tests/test_stage_modules.py)."""

from __future__ import annotations

from seqmask.app.root import load_experiment
from seqmask.motion.artifacts import EVALUATE, EVALUATOR, RENDER, run_role
from seqmask.motion.pipeline import motion_compare_plan, motion_prep_plan
from seqmask.motion.stages import evaluate, render, report
from seqmask.stage import stage_name


def _stages():
    config = load_experiment("tiny")
    return [
        (stage, config)
        for plan in (motion_compare_plan, motion_prep_plan)
        for pipeline, _ in plan(config)
        for stage in pipeline.stages
    ]


def test_the_reports_roles_of_a_run_are_its_stage_names() -> None:
    [(stage, _)] = [(stage, config) for stage, config in _stages() if stage.module == report.__name__]
    evaluations = stage_name(evaluate) + "-"
    runs = [name.removeprefix(evaluations) for name in stage.inputs.values() if name.startswith(evaluations)]
    assert runs and all(stage.inputs[run_role(EVALUATE, run)] == stage_name(evaluate, run) for run in runs)
    rendered = [run for run in runs if run_role(RENDER, run) in stage.inputs]
    assert rendered and all(stage.inputs[run_role(RENDER, run)] == stage_name(render, run) for run in rendered)
    roles = {EVALUATOR, *(run_role(EVALUATE, run) for run in runs), *(run_role(RENDER, run) for run in rendered)}
    assert set(stage.inputs) == roles
    assert {EVALUATOR, EVALUATE, RENDER} == set(report.ROLES)
