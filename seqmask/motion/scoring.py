"""Scoring sets of motions with the evaluator: FID against the real windows with a bootstrap interval, R-precision,
MM-Dist and diversity, overall and for captions seen / unseen in training; and the floors any model is read against.

A generated set holds ``S`` motions per real window (one per sampling seed), so its FID
is read against the real windows and every floor is made at the same size ``S N``:
FID's bias depends on the sample size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqmask.eval.motion import diversity, fid, fid_interval, matching_distance, r_precision

SHUFFLES = 5
"""R-precision is averaged over this many shufflings into batches (MDM repeats its evaluation too)."""


def fid_with_interval(real: np.ndarray, generated: np.ndarray, *, resamples: int, seed: int = 0) -> dict[str, float]:
    low, high = fid_interval(real, generated, resamples=resamples, seed=seed)
    return {"fid": fid(real, generated), "fid_low": low, "fid_high": high}


def r_precisions(texts: np.ndarray, motions: np.ndarray, batch_size: int) -> list[float] | None:
    """Mean R@1..3 over :data:`SHUFFLES` shufflings; None when the set is smaller than one batch."""
    if len(texts) < batch_size:
        return None
    runs = np.array(
        [r_precision(texts, motions, batch_size=batch_size, top_k=3, seed=seed) for seed in range(SHUFFLES)]
    )  # (S, 3)
    return runs.mean(axis=0).tolist()


def score_set(
    real: np.ndarray, texts: np.ndarray, generated: np.ndarray, *, copies: int, batch_size: int, resamples: int
) -> dict:
    """Metrics of ``generated`` ``(copies N, E)`` (copy ``c`` of window ``i`` at row ``c N + i``) against ``real``
    ``(N, E)`` whose captions embed to ``texts`` ``(N, E)``; R-precision and MM-Dist per copy, averaged."""
    n = len(real)
    per_copy = [generated[c * n : (c + 1) * n] for c in range(copies)]
    r = [r_precisions(texts, motions, batch_size) for motions in per_copy]
    return {
        **fid_with_interval(real, generated, resamples=resamples),
        "r_precision": None if r[0] is None else np.mean(r, axis=0).tolist(),
        "mm_dist": float(np.mean([matching_distance(texts, motions) for motions in per_copy])),
        "diversity": diversity(generated, pairs=min(300, len(generated))),
        "windows": n,
    }


def score_groups(
    real: np.ndarray,
    texts: np.ndarray,
    generated: np.ndarray,
    seen: Sequence[bool],
    *,
    copies: int,
    batch_size: int,
    resamples: int,
) -> dict[str, dict]:
    """:func:`score_set` over all windows and over those whose (content, style) pair is seen / unseen in training."""
    groups = {"all": np.ones(len(real), dtype=bool), "seen pair": np.array(seen), "unseen pair": ~np.array(seen)}
    scored = {}
    for name, chosen in groups.items():
        if chosen.sum() < 2:
            continue
        rows = np.concatenate([np.flatnonzero(chosen) + c * len(real) for c in range(copies)])
        scored[name] = score_set(
            real[chosen], texts[chosen], generated[rows], copies=copies, batch_size=batch_size, resamples=resamples
        )
    return scored


def floors(
    real: np.ndarray,
    train: np.ndarray,
    static: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    train_pairs: Sequence[tuple[str, str]],
    *,
    copies: int,
    resamples: int,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """FID of reference sets of ``copies N`` motions against ``real`` ``(N, E)``: the static mean pose, a random
    training window of another caption, of any caption, and (the noise level) one half of the real windows against the
    other."""
    rng = np.random.default_rng(seed)
    size = copies * len(real)
    other = [rng.choice([j for j, pair in enumerate(train_pairs) if pair != pairs[i % len(real)]]) for i in range(size)]
    order = rng.permutation(len(real))
    half = len(real) // 2
    return {
        "static pose": fid_with_interval(real, np.repeat(static[None], size, axis=0), resamples=resamples),
        "other caption": fid_with_interval(real, train[other], resamples=resamples),
        "any caption": fid_with_interval(real, train[rng.integers(0, len(train), size)], resamples=resamples),
        "real halves": fid_with_interval(real[order[:half]], real[order[half:]], resamples=resamples),
    }
