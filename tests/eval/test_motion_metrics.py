"""Text-to-motion metrics against closed forms and values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seqmask.eval.motion import (
    chance_r_precision,
    diversity,
    fid,
    fid_interval,
    matching_distance,
    multimodality,
    r_precision,
)


def _with_moments(mean: np.ndarray, cov: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Rows (N, D) whose sample mean and (ddof=1) sample covariance are exactly ``mean`` and ``cov``."""
    noise = np.random.default_rng(seed).normal(size=(rows, mean.shape[0]))  # (N, D)
    noise -= noise.mean(axis=0)
    whitened = noise @ np.linalg.inv(np.linalg.cholesky(np.cov(noise, rowvar=False))).T  # (N, D), sample cov = I
    return mean + whitened @ np.linalg.cholesky(cov).T  # (N, D)


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 8))  # (N, D)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)
    few = np.random.default_rng(1).normal(size=(3, 10))  # rank-deficient covariance
    assert fid(few, few) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_a_shifted_copy_is_the_squared_shift():
    x = np.random.default_rng(0).normal(size=(300, 5))  # (N, D)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])  # (D,)
    assert fid(x, x + shift) == pytest.approx(shift @ shift, rel=1e-8)


def test_fid_of_diagonal_gaussians_matches_the_closed_form():
    mean_a, std_a = np.array([0.0, 1.0, -1.0]), np.array([1.0, 2.0, 0.5])
    mean_b, std_b = np.array([1.0, 1.0, 2.0]), np.array([3.0, 1.0, 0.5])
    a = _with_moments(mean_a, np.diag(std_a**2), 50, seed=0)
    b = _with_moments(mean_b, np.diag(std_b**2), 70, seed=1)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)  # 1 + 9 + (4 + 1 + 0)
    assert expected == pytest.approx(15.0)
    assert fid(a, b) == pytest.approx(expected, rel=1e-9)


def test_fid_of_non_commuting_covariances_matches_the_two_by_two_closed_form():
    cov_a, cov_b = np.array([[2.0, 0.8], [0.8, 1.0]]), np.array([[1.0, -0.3], [-0.3, 3.0]])
    a = _with_moments(np.zeros(2), cov_a, 40, seed=2)
    b = _with_moments(np.array([0.5, -1.0]), cov_b, 60, seed=3)
    product = cov_a @ cov_b
    trace_sqrt = np.sqrt(np.trace(product) + 2.0 * np.sqrt(np.linalg.det(product)))  # eigenvalues a, b: (a + b)^2
    expected = (0.5**2 + 1.0**2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    assert fid(a, b) == pytest.approx(expected, rel=1e-9)
    assert fid(b, a) == pytest.approx(expected, rel=1e-9)


def test_fid_is_symmetric():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(100, 6)), rng.normal(1.0, 2.0, size=(80, 6)) @ rng.normal(size=(6, 6))
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)


def test_fid_interval_contains_the_estimate_and_narrows_with_more_rows():
    rng = np.random.default_rng(5)
    widths = []
    for rows in (40, 1000):
        real, generated = rng.normal(size=(rows, 4)), rng.normal(3.0, 1.0, size=(rows, 4))
        low, high = fid_interval(real, generated, resamples=200, seed=0)
        assert low < fid(real, generated) < high
        widths.append(high - low)
    assert widths[0] > 2 * widths[1]
    again = fid_interval(real, generated, resamples=200, seed=0)
    assert again == (low, high)


def test_fid_interval_is_centred_on_the_estimate_although_resamples_are_biased_upward():
    rng = np.random.default_rng(7)
    real, generated = (
        rng.normal(size=(150, 16)),
        rng.normal(size=(300, 16)),
    )  # same law: FID is all sampling noise and bias
    low, high = fid_interval(real, generated, resamples=100, seed=0)
    assert low <= fid(real, generated) <= high


def test_fid_rejects_bad_inputs():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"at least 2 generated embeddings.*found 1"):
        fid(x, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"same dimension, found 3 and 4"):
        fid(x, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"real embeddings of shape \(N, D\).*found shape \(5, 3, 1\)"):
        fid(np.zeros((5, 3, 1)), x)
    with pytest.raises(ValueError, match=r"finite generated embeddings, found 1 NaN"):
        fid(x, np.array([[np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"level strictly between 0 and 1, found 1.5"):
        fid_interval(x + np.arange(5)[:, None], x, level=1.5)


def test_r_precision_is_one_for_matching_well_separated_rows():
    x = np.random.default_rng(6).normal(size=(70, 16)) * 10  # (N, D)
    assert r_precision(x, x, batch_size=32, top_k=3) == [1.0, 1.0, 1.0]


def test_r_precision_of_a_hand_worked_batch():
    text = np.array([[0.0], [1.0], [10.0]])
    motion = np.array([[0.6], [0.2], [10.0]])
    # text 0: motions at 0.6, 0.2, 10 -> own motion second; text 1: 0.4, 0.8, 9 -> second; text 2: own is nearest
    for seed in range(5):  # one batch: the shuffle moves texts and motions together
        assert r_precision(text, motion, batch_size=3, top_k=3, seed=seed) == pytest.approx([1 / 3, 1.0, 1.0])


def test_r_precision_drops_the_incomplete_last_batch():
    x = np.arange(5.0)[:, None] * 10
    # two batches of 2; only 4 of the 5 rows count
    assert r_precision(x, x, batch_size=2, top_k=1) == [1.0]
    shares = r_precision(x, x[::-1], batch_size=2, top_k=2, seed=1)
    assert all(share * 4 == round(share * 4) for share in shares)


def test_r_precision_of_ties_and_of_random_embeddings_is_chance():
    same = np.ones((64, 4))
    # ties keep the shuffled batch order: text at position i finds its motion at rank i + 1
    assert r_precision(same, same, batch_size=32, top_k=3) == pytest.approx(chance_r_precision(32, 3))
    rng = np.random.default_rng(7)
    text, motion = rng.normal(size=(6400, 8)), rng.normal(size=(6400, 8))
    shares = r_precision(text, motion, batch_size=32, top_k=3)
    assert shares == pytest.approx(chance_r_precision(32, 3), abs=0.015)


def test_r_precision_is_cumulative():
    rng = np.random.default_rng(8)
    text = rng.normal(size=(256, 8))
    shares = r_precision(text, text + rng.normal(scale=1.0, size=text.shape), batch_size=32, top_k=5)
    assert len(shares) == 5 and shares == sorted(shares)
    assert 0.0 < shares[0] < shares[-1] < 1.0


def test_r_precision_rejects_bad_inputs():
    x = np.zeros((10, 4))
    with pytest.raises(ValueError, match=r"at least batch_size=32 rows.*found 10"):
        r_precision(x, x)
    with pytest.raises(ValueError, match=r"same shape \(N, D\), found \(10, 4\) and \(9, 4\)"):
        r_precision(x, x[:9], batch_size=4)
    with pytest.raises(ValueError, match=r"top_k <= batch_size \(4\), found top_k=5"):
        r_precision(x, x, batch_size=4, top_k=5)


def test_chance_r_precision():
    assert chance_r_precision(32, 3) == [1 / 32, 2 / 32, 3 / 32]
    with pytest.raises(ValueError, match=r"found top_k=0"):
        chance_r_precision(32, 0)


def test_matching_distance_by_hand():
    text = np.array([[0.0, 0.0], [1.0, 1.0]])
    motion = np.array([[3.0, 4.0], [1.0, 1.0]])
    assert matching_distance(text, motion) == pytest.approx(2.5)  # (5 + 0) / 2
    with pytest.raises(ValueError, match=r"same shape"):
        matching_distance(text, motion[:, :1])


def test_diversity_by_hand():
    points = np.array([[0.0], [3.0], [4.0]])  # distances 3, 4 and 1
    values = [diversity(points, pairs=3, seed=seed) for seed in range(2000)]
    # both draws are permutations of the 3 rows, so rows are paired by a permutation:
    # identity 0, swap 0-1 (3 + 3) / 3, swap 0-2 (4 + 4) / 3, swap 1-2 (1 + 1) / 3, either cycle (3 + 1 + 4) / 3
    possible = (0.0, 2.0, 8 / 3, 2 / 3)
    assert all(any(abs(v - p) < 1e-12 for p in possible) for v in values)
    # each position pairs two independent uniform rows: expectation is the mean over all 9 ordered pairs
    assert np.mean(values) == pytest.approx(2 * (3 + 4 + 1) / 9, abs=0.1)
    assert diversity(points, pairs=1000, seed=3) == diversity(points, pairs=3, seed=3)  # pairs capped at N
    assert diversity(np.ones((5, 2)), pairs=4) == 0.0


def test_diversity_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"at least 2 motions for diversity, found 1"):
        diversity(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"shape \(N, D\).*found shape \(4,\)"):
        diversity(np.zeros(4))


def test_multimodality_by_hand():
    motion = np.array([[[0.0], [2.0]], [[1.0], [5.0]]])  # (C=2, K=2, D=1): within-text distances 2 and 4
    values = [multimodality(motion, pairs=2, seed=seed) for seed in range(2000)]
    # one shared draw: either both pairs are a sample with itself (0) or both cross ((2 + 4) / 2)
    assert set(np.round(values, 12)) == {0.0, 3.0}
    # per text the expectation is the mean over its 4 ordered pairs: (2 * 2 / 4 + 2 * 4 / 4) / 2
    assert np.mean(values) == pytest.approx(1.5, abs=0.1)
    assert multimodality(np.ones((3, 4, 2))) == 0.0


def test_multimodality_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"shape \(texts, samples, dim\), found shape \(4, 3\)"):
        multimodality(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"at least 2 samples per text.*found 1"):
        multimodality(np.zeros((4, 1, 3)))
