"""Ratio-margin mining and xSIM: exact against a brute-force reference, faiss and torch agree, errors computed right."""

from __future__ import annotations

import numpy as np
import pytest

from seqmask.text.mining import mine, mine_both_ways, normalise


def brute_force_margin_matches(source: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """The same rule over the full N x N matrix (what the linear-memory code must reproduce)."""
    sim = source @ target.T  # (N, N)
    near_targets = -np.sort(-sim, axis=1)[:, :k].mean(axis=1) / 2
    near_sources = -np.sort(-sim.T, axis=1)[:, :k].mean(axis=1) / 2
    candidates = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    margins = sim[np.arange(len(sim))[:, None], candidates] / (near_targets[:, None] + near_sources[candidates])
    return candidates[np.arange(len(sim)), margins.argmax(axis=1)]


def noisy_pairs(n: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, dim))
    return normalise(source), normalise(source + noise * rng.normal(size=(n, dim)))


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_matches_equal_the_brute_force_rule(backend) -> None:
    source, target = noisy_pairs(300, 16, noise=1.2, seed=0)
    result = mine(source, target, k=4, backend=backend)
    expected = brute_force_margin_matches(source, target, 4)
    assert np.array_equal(result.matches, expected)
    assert result.xsim_error == pytest.approx(100 * np.mean(expected != np.arange(300)))
    assert 5 < result.xsim_error < 95  # noisy enough that errors happen, close enough that most match


def test_identical_sides_mine_perfectly_and_random_ones_near_chance() -> None:
    source, _ = noisy_pairs(500, 32, noise=0.0, seed=1)
    both = mine_both_ways(source, source.copy())
    assert both["forward"].xsim_error == 0.0 and both["backward"].p_at_1 == 100.0
    unrelated = mine_both_ways(*noisy_pairs(500, 32, noise=0.0, seed=2)[:1], noisy_pairs(500, 32, noise=0.0, seed=3)[0])
    assert unrelated["forward"].xsim_error > 97.0


def test_margin_corrects_a_hub_that_cosine_prefers() -> None:
    # target 0 is a hub: close to every source; margin discounts it, cosine does not
    rng = np.random.default_rng(4)
    source = normalise(rng.normal(size=(200, 8)))
    target = source + 0.6 * rng.normal(size=(200, 8))
    target[0] = source.mean(axis=0) * 40
    result = mine(source, normalise(target), k=4)
    assert result.xsim_error < 100 - result.p_at_1


def test_centring_removes_a_language_offset() -> None:
    source, target = noisy_pairs(400, 16, noise=0.5, seed=5)
    offset = np.full(16, 3.0)
    plain = mine_both_ways(source, target + offset)
    centred = mine_both_ways(source, target + offset, centre=True)
    assert centred["forward"].xsim_error < plain["forward"].xsim_error


def test_misaligned_sides_are_refused() -> None:
    with pytest.raises(ValueError, match="same shape"):
        mine(np.zeros((3, 4), np.float32), np.zeros((2, 4), np.float32))
