"""Result tables for any metric (mean ± std over seeds, change against a baseline), checked by hand; run names."""

from __future__ import annotations

import pytest

from seqmask.eval.wer import CER, WER
from seqmask.experiment.runs import Run, expand
from seqmask.experiment.tables import Metric, compare_table, results_table, study_table


def test_results_table_rows_are_groups_and_columns_models():
    random = {"g": {"wer": 0.25, "cer": 0.1, "utterances": 4}, "all": {"wer": 0.2, "cer": 0.1, "utterances": 4}}
    guided = {"g": {"wer": 0.125, "cer": 0.05, "utterances": 4}, "all": {"wer": 0.1, "cer": 0.05, "utterances": 4}}
    table = results_table({"random": random, "ask2mask+utt": guided}, WER)
    assert table.splitlines() == [
        "| group | utterances | random | ask2mask+utt |",
        "|:---|---:|---:|---:|",
        "| g | 4 | 25.0 | 12.5 |",
        "| all | 4 | 20.0 | 10.0 |",
    ]
    assert "| g | 4 | 10.0 | 5.0 |" in results_table({"random": random, "ask2mask+utt": guided}, CER)


def _run(variant: str, seed: int, wer: float) -> dict:
    return {"variant": variant, "seed": seed, "results": {"all": {"wer": wer, "cer": wer / 2, "utterances": 10}}}


def test_compare_table_mean_std_and_relative_change():
    runs = [_run("random", 0, 0.20), _run("random", 1, 0.30), _run("ask2mask", 0, 0.18), _run("ask2mask", 1, 0.22)]
    lines = compare_table(runs, WER, baseline="random").splitlines()
    assert lines[0] == "| group | utterances | random | ask2mask | ask2mask rel. vs random |"
    # random: mean 25, sample std sqrt(50) = 7.07; ask2mask: mean 20, std sqrt(8) = 2.83; (20 - 25) / 25 = -20 %
    assert lines[2] == "| all | 10 | 25.0 ± 7.1 (2 seeds) | 20.0 ± 2.8 (2 seeds) | -20.0% |"


def test_compare_table_needs_the_baseline_and_one_run_per_seed():
    with pytest.raises(ValueError, match=r"baseline variant 'random', found variants \['ask2mask'\]"):
        compare_table([_run("ask2mask", 0, 0.2)], WER, baseline="random")
    with pytest.raises(ValueError, match="seed 0 twice"):
        compare_table([_run("random", 0, 0.2), _run("random", 0, 0.3)], WER, baseline="random")


def test_study_table_has_a_row_per_point_and_extra_columns():
    points = {
        "paper": [_run("random", 0, 0.20), _run("ask2mask+utt", 0, 0.19)],
        "nonblank": [_run("random", 0, 0.20), _run("ask2mask+utt", 0, 0.15)],
    }
    lines = study_table(
        points, CER, group="all", baseline="random", columns={"overrides": {"nonblank": "x=1"}}
    ).splitlines()
    assert lines[0] == "| point | overrides | random | ask2mask+utt | ask2mask+utt rel. vs random |"
    assert lines[2] == "| paper | – | 10.0 ± – (1 seed) | 9.5 ± – (1 seed) | -5.0% |"
    assert lines[3] == "| nonblank | x=1 | 10.0 ± – (1 seed) | 7.5 ± – (1 seed) | -25.0% |"


def test_study_table_needs_the_same_variants_at_every_point():
    points = {"a": [_run("random", 0, 0.2), _run("ask2mask", 0, 0.2)], "b": [_run("random", 0, 0.2)]}
    with pytest.raises(ValueError, match="study point 'b': expected the variants"):
        study_table(points, WER, group="all", baseline="random")
    with pytest.raises(ValueError, match="study point 'c': expected runs of the baseline"):
        study_table({"c": [_run("ask2mask", 0, 0.2)]}, WER, group="all", baseline="random")


def test_any_metric_prints_with_its_own_scale_and_count():
    accuracy = Metric("p_at_1", "P@1", scale=1.0)
    results = {"eng-tam": {"p_at_1": 0.42, "pairs": 307}, "all": {"p_at_1": 0.5, "pairs": 307}}
    assert results_table({"mlm": results}, accuracy, count="pairs").splitlines()[2] == "| eng-tam | 307 | 0.4 |"


def test_run_names_are_letters_digits_and_dashes():
    assert Run("ask2mask+utt", 0).name == "ask2mask-utt-s0"
    assert [run.name for run in expand(["none", "random"], [0, 1])] == ["none-s0", "none-s1", "random-s0", "random-s1"]
    with pytest.raises(ValueError, match="same run name twice"):
        expand(["a+b", "a-b"], [0])
