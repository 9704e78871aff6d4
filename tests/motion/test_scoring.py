"""Scoring generated sets: groups of seen / unseen captions, copies per sampling seed, and floors of the same size."""

from __future__ import annotations

import numpy as np
import pytest

from seqmask.motion.scoring import floors, score_groups, score_set


def embeddings(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 8))


def test_a_copy_of_the_real_set_scores_like_real_motion() -> None:
    real = embeddings(64, 0)
    texts = real + 0.01 * embeddings(64, 1)  # each caption next to its own motion
    scored = score_set(real, texts, np.concatenate([real, real]), copies=2, batch_size=32, resamples=20)
    assert scored["fid"] < 1e-3 and scored["r_precision"][0] == pytest.approx(1.0) and scored["windows"] == 64
    assert scored["mm_dist"] == pytest.approx(np.linalg.norm(texts - real, axis=1).mean())
    assert scored["fid_low"] <= scored["fid"] <= scored["fid_high"]


def test_groups_split_windows_and_keep_every_copy() -> None:
    real, texts = embeddings(80, 0), embeddings(80, 1)
    generated = np.concatenate([real + 0.1, real + 0.1])  # (2 N, E)
    seen = [i < 40 for i in range(80)]
    groups = score_groups(real, texts, generated, seen, copies=2, batch_size=32, resamples=10)
    assert set(groups) == {"all", "seen pair", "unseen pair"}
    assert groups["seen pair"]["windows"] == groups["unseen pair"]["windows"] == 40 and groups["all"]["windows"] == 80
    assert groups["all"]["fid"] == pytest.approx(0.08, abs=1e-3)  # a shift of 0.1 in 8 dimensions, same covariance
    assert score_groups(real, texts, generated, [False] * 80, copies=2, batch_size=32, resamples=10).keys() == {
        "all",
        "unseen pair",
    }
    assert (
        groups["seen pair"]["r_precision"] is not None
        and score_set(real[:20], texts[:20], generated[:20], copies=1, batch_size=32, resamples=10)["r_precision"]
        is None
    )


def test_floors_are_ordered_static_far_above_real_training_windows() -> None:
    real, train = embeddings(60, 0), embeddings(300, 1)
    pairs = [("bow", "sad") if i % 2 else ("walk", "happy") for i in range(60)]
    train_pairs = [("bow", "sad") if i % 2 else ("walk", "happy") for i in range(300)]
    found = floors(real, train, np.zeros(8), pairs, train_pairs, copies=2, resamples=10)
    assert set(found) == {"static pose", "other caption", "any caption", "real halves"}
    assert found["static pose"]["fid"] > 5 * found["any caption"]["fid"]
    assert all(f["fid_low"] <= f["fid"] <= f["fid_high"] for f in found.values())
