"""Study plans: parsing, checks that name the file and key, and the per-point configs."""

from __future__ import annotations

import pytest

from seqmask.app.root import load_experiment
from seqmask.app.speech import DEFAULT_STUDY_PLAN
from seqmask.experiment.study import load_study, point_configs
from seqmask.paths import resolve_path
from seqmask.schema import ConfigError
from seqmask.speech.config import BASELINE, VARIANTS

SPEECH = dict(variants=VARIANTS, baseline=BASELINE, default_variants=(BASELINE, "ask2mask+utt"))


def write(tmp_path, text):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def test_the_default_plan_loads_and_every_point_is_a_valid_config():
    plan = load_study(resolve_path(DEFAULT_STUDY_PLAN), **SPEECH)
    assert "paper" in plan.points and plan.split == "valid" and "random" in plan.variants
    configs = point_configs(load_experiment("small"), plan)
    assert configs["nonblank"].speech.scores.confidence == "nonblank"
    assert configs["paper"].speech.scores.confidence == "max"


def test_point_overrides_apply_over_the_run_config(tmp_path):
    plan = load_study(write(tmp_path, "points:\n  a: {speech.pretrain.mask.random_share: 0.5}\n"), **SPEECH)
    run_config = load_experiment("tiny", ["speech.pretrain.mask.random_share=0.25", "speech.pretrain.train.steps=7"])
    config = point_configs(run_config, plan)["a"]
    assert config.speech.pretrain.mask.random_share == 0.5 and config.speech.pretrain.train.steps == 7
    assert plan.variants == ("random", "ask2mask+utt")  # the default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("split: test_matched\npoints: {a: {}}\n", "never a test split"),
        ("points: {a: {}}\nseed: [0]\n", "unknown key 'seed'"),
        ("points: {}\n", "points: expected a mapping"),
        ("points: {Bad Name: {}}\n", "point name 'Bad Name'"),
        ("points: {share-0.5: {}}\n", "point name 'share-0.5'"),
        ("points: {a: [x]}\n", "points.a: expected a mapping"),
        ("seeds: [zero]\npoints: {a: {}}\n", "seeds: expected a non-empty list of integers"),
        ("variants: [ask2mask]\npoints: {a: {}}\n", "including the baseline 'random'"),
        ("variants: [random, loudest]\npoints: {a: {}}\n", "variants among"),
        ("points: [a\n", "not valid YAML"),
    ],
)
def test_bad_plans_name_the_file_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_study(path, **SPEECH)
    assert str(path) in str(info.value)


def test_a_bad_override_names_the_point(tmp_path):
    plan = load_study(write(tmp_path, "points:\n  odd: {speech.scores.confidence: loudest}\n"), **SPEECH)
    with pytest.raises(ConfigError, match="study point 'odd'.*speech.scores.confidence"):
        point_configs(load_experiment("tiny"), plan)


def test_a_missing_plan_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_study(tmp_path / "nope.yaml", **SPEECH)
