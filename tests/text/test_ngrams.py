"""The n-gram TF-IDF floor: deterministic, and it mines what translations share verbatim."""

from __future__ import annotations

import numpy as np

from seqmask.text.mining import mine_both_ways
from seqmask.text.ngrams import char_ngrams, tfidf_vectors


def test_hashes_are_stable_and_cover_each_order() -> None:
    counts = char_ngrams("ab", (2, 3))
    assert sum(counts.values()) == 3 + 2  # " ab " has 3 bigrams and 2 trigrams
    assert counts == char_ngrams("AB", (2, 3))


def test_shared_numbers_and_names_are_mined_unrelated_text_is_not() -> None:
    english = [f"Room {n} of building {chr(65 + n % 26)}{n * 7}" for n in range(200)]
    other = [f"Kamara {n}, goda {chr(65 + n % 26)}{n * 7}" for n in range(200)]  # shares only numbers and codes
    first, second = tfidf_vectors([english, other])
    result = mine_both_ways(first, second)
    assert result["forward"].xsim_error < 10 and result["backward"].xsim_error < 10
    shuffled = np.random.default_rng(0).permutation(200)
    scrambled = mine_both_ways(first, second[shuffled])
    assert scrambled["forward"].xsim_error > 90
