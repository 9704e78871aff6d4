"""Error rates per group, checked by hand."""

from __future__ import annotations

import pytest

from seqmask.eval.wer import error_rates, evaluate_groups


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
