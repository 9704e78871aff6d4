"""Error rates per group and the comparison tables, checked by hand."""

from __future__ import annotations

import pytest

from seqmask.eval.wer import compare_table, error_rates, evaluate_groups, study_table, wer_table


def test_one_substitution_in_four_words():
    rates = error_rates({"u1": "The cat sat down."}, {"u1": "the cat SIT down"})
    assert rates["wer"] == pytest.approx(1 / 4)
    assert rates["cer"] == pytest.approx(1 / 16)  # "sat" -> "sit": 1 of 16 characters, spaces included
    assert (rates["utterances"], rates["words"], rates["empty_refs"]) == (1, 4, 0)


def test_ids_must_match_exactly():
    with pytest.raises(ValueError, match=r"\['u2'\].*\['u3'\]"):
        error_rates({"u1": "a", "u2": "b"}, {"u1": "a", "u3": "b"})


def test_empty_references_are_skipped_and_counted():
    rates = error_rates({"u1": "yes no", "u2": "?!"}, {"u1": "yes", "u2": "noise"})
    assert (rates["wer"], rates["utterances"], rates["words"], rates["empty_refs"]) == (0.5, 1, 2, 1)
    nothing = error_rates({"u1": ""}, {"u1": "noise"})
    assert (nothing["wer"], nothing["cer"], nothing["empty_refs"]) == (None, None, 1)


def test_evaluate_groups_and_all():
    refs = {"u1": "the cat sat down", "u2": "hello world", "u3": "good night"}
    hyps = {"u1": "the cat sit down", "u2": "hello world", "u3": "good"}
    groups = {"u1": "test_matched/fsdd", "u2": "test_matched/espeak", "u3": "test_matched/espeak"}
    results = evaluate_groups(refs, hyps, groups)
    assert list(results) == ["test_matched/espeak", "test_matched/fsdd", "all"]
    assert results["test_matched/fsdd"]["wer"] == pytest.approx(1 / 4)
    assert results["test_matched/espeak"]["wer"] == pytest.approx(1 / 4)  # one deletion in 4 words
    assert results["all"]["wer"] == pytest.approx(2 / 8) and results["all"]["utterances"] == 3
    with pytest.raises(ValueError, match=r"without: \['u3'\]"):
        evaluate_groups(refs, hyps, {"u1": "a", "u2": "b"})


def test_wer_table_rows_are_groups_and_columns_models():
    random = {"g": {"wer": 0.25, "cer": 0.1, "utterances": 4}, "all": {"wer": 0.2, "cer": 0.1, "utterances": 4}}
    guided = {"g": {"wer": 0.125, "cer": 0.05, "utterances": 4}, "all": {"wer": 0.1, "cer": 0.05, "utterances": 4}}
    table = wer_table({"random": random, "ask2mask+utt": guided})
    assert table.splitlines() == [
        "| group | utterances | random | ask2mask+utt |",
        "|:---|---:|---:|---:|",
        "| g | 4 | 25.0 | 12.5 |",
        "| all | 4 | 20.0 | 10.0 |",
    ]
    assert "| g | 4 | 10.0 | 5.0 |" in wer_table({"random": random, "ask2mask+utt": guided}, metric="cer")


def _run(variant: str, seed: int, wer: float) -> dict:
    return {"variant": variant, "seed": seed, "results": {"all": {"wer": wer, "cer": wer / 2, "utterances": 10}}}


def test_compare_table_mean_std_and_relative_change():
    runs = [_run("random", 0, 0.20), _run("random", 1, 0.30), _run("ask2mask", 0, 0.18), _run("ask2mask", 1, 0.22)]
    lines = compare_table(runs).splitlines()
    assert lines[0] == "| group | utterances | random | ask2mask | ask2mask rel. vs random |"
    # random: mean 25, sample std sqrt(50) = 7.07; ask2mask: mean 20, std sqrt(8) = 2.83; (20 - 25) / 25 = -20 %
    assert lines[2] == "| all | 10 | 25.0 ± 7.1 (2 seeds) | 20.0 ± 2.8 (2 seeds) | -20.0% |"


def test_compare_table_needs_the_baseline_and_one_run_per_seed():
    with pytest.raises(ValueError, match=r"baseline variant 'random', found variants \['ask2mask'\]"):
        compare_table([_run("ask2mask", 0, 0.2)])
    with pytest.raises(ValueError, match="seed 0 twice"):
        compare_table([_run("random", 0, 0.2), _run("random", 0, 0.3)])


def test_study_table_has_a_row_per_point_and_extra_columns():
    points = {
        "paper": [_run("random", 0, 0.20), _run("ask2mask+utt", 0, 0.19)],
        "nonblank": [_run("random", 0, 0.20), _run("ask2mask+utt", 0, 0.15)],
    }
    lines = study_table(points, group="all", metric="cer", columns={"overrides": {"nonblank": "x=1"}}).splitlines()
    assert lines[0] == "| point | overrides | random | ask2mask+utt | ask2mask+utt rel. vs random |"
    assert lines[2] == "| paper | – | 10.0 ± – (1 seed) | 9.5 ± – (1 seed) | -5.0% |"
    assert lines[3] == "| nonblank | x=1 | 10.0 ± – (1 seed) | 7.5 ± – (1 seed) | -25.0% |"


def test_study_table_needs_the_same_variants_at_every_point():
    points = {"a": [_run("random", 0, 0.2), _run("ask2mask", 0, 0.2)], "b": [_run("random", 0, 0.2)]}
    with pytest.raises(ValueError, match="study point 'b': expected the variants"):
        study_table(points, group="all")
    with pytest.raises(ValueError, match="study point 'c': expected runs of the baseline"):
        study_table({"c": [_run("ask2mask", 0, 0.2)]}, group="all")
