"""Every motion stage is one self-describing module: named after it, declaring what it reads and writes, its typed
config slice and its build; the report's roles of a run are that run's stage names."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import seqmask.motion.stages
from seqmask.app.root import load_experiment
from seqmask.motion.artifacts import EVALUATE, EVALUATOR, RENDER, run_role
from seqmask.motion.pipeline import motion_compare_plan, motion_prep_plan
from seqmask.motion.stages import evaluate, render, report
from seqmask.stage import stage_name

MODULES = [
    importlib.import_module(f"seqmask.motion.stages.{info.name}")
    for info in pkgutil.iter_modules(seqmask.motion.stages.__path__)
]


def _stages():
    config = load_experiment("tiny")
    return [
        (stage, config)
        for plan in (motion_compare_plan, motion_prep_plan)
        for pipeline, _ in plan(config)
        for stage in pipeline.stages
    ]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_every_stage_module_declares_version_roles_writes_config_and_build(module) -> None:
    assert isinstance(module.VERSION, int) and module.VERSION >= 1
    assert isinstance(module.ROLES, tuple) and all(isinstance(role, str) for role in module.ROLES)
    assert isinstance(module.WRITES, tuple) and module.WRITES and all(isinstance(name, str) for name in module.WRITES)
    assert dataclasses.is_dataclass(module.Config) and callable(module.build)


def test_every_stage_is_named_after_its_module_and_reads_its_config() -> None:
    stages = _stages()
    assert {stage.module for stage, _ in stages} == {module.__name__ for module in MODULES}
    for stage, config in stages:
        module = importlib.import_module(stage.module)
        name = stage_name(module)
        assert stage.name == name or stage.name.startswith(f"{name}-"), stage.name
        assert stage.version == module.VERSION and stage.writes == module.WRITES
        assert isinstance(stage.config_of(config), module.Config), stage.name
        assert module is report or set(stage.inputs) <= set(module.ROLES), stage.name


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
