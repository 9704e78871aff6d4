"""Every stage of the three pipelines is one self-describing module: it declares its version, the roles it reads, the
files it writes, its typed config slice and its build; its stages are named after it, run its version and slice, and
read only its roles (a per-run role ``R-<run>`` names the stage it reads)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

from seqmask.app.root import load_experiment
from seqmask.stage import stage_name

STUDY = {"seeds": [0], "points": {"paper": {}, "nonblank": {"speech.scores.confidence": "nonblank"}}}
PLANS = {
    "speech": ("speech_prep_plan", "speech_compare_plan", "speech_study_plan"),
    "text": ("text_prep_plan", "text_compare_plan"),
    "motion": ("motion_prep_plan", "motion_compare_plan"),
}


def _modules(pipeline: str) -> list:
    package = importlib.import_module(f"seqmask.{pipeline}.stages")
    return [
        importlib.import_module(f"{package.__name__}.{info.name}") for info in pkgutil.iter_modules(package.__path__)
    ]


def _planned(pipeline: str) -> list:
    """Every stage of the pipeline's plans at ``tiny``, with the experiment config it runs under."""
    config, plans = load_experiment("tiny"), importlib.import_module(f"seqmask.{pipeline}.pipeline")
    found = []
    for name in PLANS[pipeline]:
        plan = getattr(plans, name)
        found += [
            (stage, point)
            for pipe, point in (plan(config, STUDY) if "study" in name else plan(config))
            for stage in pipe.stages
        ]
    return found


@pytest.mark.parametrize(
    "module", [m for p in PLANS for m in _modules(p)], ids=lambda m: m.__name__.removeprefix("seqmask.")
)
def test_every_stage_module_declares_its_stage(module) -> None:
    assert isinstance(module.VERSION, int) and module.VERSION >= 1 and callable(module.build)
    assert isinstance(module.ROLES, tuple) and all(isinstance(role, str) for role in module.ROLES)
    assert isinstance(module.WRITES, tuple) and module.WRITES and all(isinstance(name, str) for name in module.WRITES)
    assert dataclasses.is_dataclass(module.Config), module.Config


@pytest.mark.parametrize("pipeline", PLANS)
def test_every_stage_is_named_after_its_module_runs_its_slice_and_reads_its_roles(pipeline: str) -> None:
    planned, seen = _planned(pipeline), set()
    for stage, config in planned:
        module = importlib.import_module(stage.module)
        own = stage_name(module)
        assert stage.name == own or stage.name.startswith(f"{own}-"), (stage.name, module.__name__)
        assert stage.version == module.VERSION and stage.writes == module.WRITES, stage.name
        assert isinstance(stage.config_of(config), module.Config), stage.name
        for role, upstream in stage.inputs.items():
            per_run = [family for family in module.ROLES if role.startswith(f"{family}-")]
            assert role in module.ROLES or per_run, (stage.name, role)
            assert not per_run or role == upstream, (stage.name, role, upstream)
        seen.add(module.__name__)
    assert seen == {module.__name__ for module in _modules(pipeline)}  # every stage module runs in one of these plans
