"""Every text stage is one self-describing module: named after it, declaring what it reads and writes, its typed config
slice and its build; the report reads each upstream stage by a role named like that stage."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import seqmask.text.stages
from seqmask.app.root import load_experiment
from seqmask.stage import stage_name
from seqmask.text.artifacts import CONTINUAL, MINED, MLM_PHASE_MINED, run_role
from seqmask.text.pipeline import text_compare_plan, text_prep_plan
from seqmask.text.stages import continual, mine, report

MODULES = [
    importlib.import_module(f"seqmask.text.stages.{info.name}")
    for info in pkgutil.iter_modules(seqmask.text.stages.__path__)
]


def _stages():
    config = load_experiment("tiny")
    return [
        (stage, config)
        for plan in (text_compare_plan, text_prep_plan)
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
