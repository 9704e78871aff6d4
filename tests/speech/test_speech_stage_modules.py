"""Every speech stage is one self-describing module: the stage is named after it, its slice is its ``Config``, its
roles are among its ``ROLES``."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

from seqmask.app.root import load_experiment
from seqmask.speech import artifacts, stages
from seqmask.speech.pipeline import speech_compare_plan, speech_prep_plan, speech_study_plan
from seqmask.speech.stages import evaluate, pretrain, report, scorer
from seqmask.stage import stage_name

STUDY = {"seeds": [0], "points": {"paper": {}, "nonblank": {"speech.scores.confidence": "nonblank"}}}
MODULES = [importlib.import_module(f"{stages.__name__}.{info.name}") for info in pkgutil.iter_modules(stages.__path__)]


@pytest.fixture(scope="module")
def planned():
    """Every stage of the prep, compare and study plans at ``tiny``, with the experiment config it runs under."""
    config = load_experiment("tiny")
    plans = [*speech_prep_plan(config), *speech_compare_plan(config), *speech_study_plan(config, STUDY)]
    return [(stage, point_config) for pipeline, point_config in plans for stage in pipeline.stages]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__.rpartition(".")[2])
def test_every_stage_module_declares_a_stage(module):
    assert isinstance(module.VERSION, int) and callable(module.build)
    assert isinstance(module.ROLES, tuple) and all(isinstance(role, str) for role in module.ROLES)
    assert isinstance(module.WRITES, tuple) and module.WRITES and all(isinstance(name, str) for name in module.WRITES)
    assert module.Config.__dataclass_params__.frozen, module.Config
    assert all(field.kw_only for field in dataclasses.fields(module.Config)), module.Config


def test_every_stage_is_named_after_its_module_and_its_slice_is_its_config(planned):
    seen = set()
    for stage, config in planned:
        module = importlib.import_module(stage.module)
        own = stage_name(module)
        assert stage.name == own or stage.name.startswith(f"{own}-"), (stage.name, module.__name__)
        assert isinstance(stage.config_of(config), module.Config), stage.name
        assert stage.version == module.VERSION and stage.writes == module.WRITES
        seen.add(module)
    assert seen == set(MODULES)  # every stage module runs in one of these flows


def test_a_stage_reads_only_its_roles_and_a_per_run_role_names_the_stage_it_reads(planned):
    for stage, _ in planned:
        module = importlib.import_module(stage.module)
        for role, upstream in stage.inputs.items():
            per_run = [family for family in module.ROLES if role.startswith(f"{family}-")]
            assert role in module.ROLES or per_run, (stage.name, role)
            if per_run:
                assert role == upstream, (stage.name, role, upstream)
    assert (artifacts.EVALUATE, artifacts.PRETRAIN) == (stage_name(evaluate), stage_name(pretrain))
    assert (artifacts.POINT_REPORT, artifacts.POINT_SCORER) == (stage_name(report), stage_name(scorer))


def test_the_stage_names():
    config = load_experiment("tiny")
    [(prep, _)] = speech_prep_plan(config)
    assert prep.stage_names() == [
        "speech-fsdd",
        "speech-ljspeech",
        "speech-espeak-synth",
        "speech-espeak",
        "speech-user",
        "speech-splits",
    ]
    [(compare, _)] = speech_compare_plan(config)
    names = compare.stage_names()
    shared = ["speech-features", "speech-labelled", "speech-scorer", "speech-scores"]
    assert names[: len(prep.stages)] == prep.stage_names() and names[len(prep.stages) : len(prep.stages) + 4] == shared
    per_run = {"speech-finetune-reference-fsdd", "speech-evaluate-ask2mask-utt-s0", "speech-pretrain-random-s1"}
    assert per_run <= set(names)
    assert names[-1] == "speech-report"
    [*_, (study, _)] = speech_study_plan(config, STUDY)
    assert study.stage_names() == ["speech-study"]
    assert study.external["speech-report-nonblank"] == ("study-nonblank", "speech-report")
