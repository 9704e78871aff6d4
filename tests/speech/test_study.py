"""Study plans: parsing, checks that name the file and key, and the per-point configs."""

from __future__ import annotations

import pytest

from seqmask.config import ConfigError, resolve_path
from seqmask.speech.study import DEFAULT_PLAN, load_study, point_config, point_configs


def write(tmp_path, text):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def test_the_default_plan_loads_and_every_point_is_a_valid_config():
    plan = load_study(resolve_path(DEFAULT_PLAN))
    assert "paper" in plan.points and plan.split == "valid" and "random" in plan.variants
    configs = point_configs("small", [], plan)
    assert configs["nonblank"].speech.scorer.confidence == "nonblank"
    assert configs["paper"].speech.scorer.confidence == "max"


def test_run_overrides_apply_under_the_point_overrides(tmp_path):
    plan = load_study(write(tmp_path, "points:\n  a: {speech.pretrain.mask.random_share: 0.5}\n"))
    config = point_config("tiny", ["speech.pretrain.mask.random_share=0.25", "speech.pretrain.steps=7"], plan, "a")
    assert config.speech.pretrain.mask.random_share == 0.5 and config.speech.pretrain.steps == 7


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
        load_study(path)
    assert str(path) in str(info.value)


def test_a_bad_override_names_the_point(tmp_path):
    plan = load_study(write(tmp_path, "points:\n  odd: {speech.scorer.confidence: loudest}\n"))
    with pytest.raises(ConfigError, match="study point 'odd'.*speech.scorer.confidence"):
        point_config("tiny", [], plan, "odd")


def test_a_missing_plan_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_study(tmp_path / "nope.yaml")
