"""Text-to-motion metrics on evaluator embeddings: FID, R-precision, MM-Dist, diversity, multimodality.

These follow the evaluation of Guo et al. (2022), "Generating Diverse and Natural 3D Human Motions
from Text", as run by MDM (Tevet et al. 2022): an evaluator maps texts and motions to embeddings,
and every metric here is computed on those embeddings. Row ``i`` of a text matrix and row ``i`` of
the matching motion matrix belong together. All arithmetic is in float64; randomness comes from a
``numpy.random.Generator`` seeded by the caller, so a metric is a function of its inputs and seed.

Random pairs in :func:`diversity` and :func:`multimodality` are drawn as Guo et al. draw them: two
independent draws of indices without replacement, so a row may be paired with itself.
"""

from __future__ import annotations

import numpy as np


def fid(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to ``real`` (N, D) and ``generated`` (M, D) embeddings."""
    real, generated = _matrix(real, "real"), _matrix(generated, "generated")
    _check_fid_inputs(real, generated)
    return _frechet(real, generated)


def fid_interval(
    real: np.ndarray, generated: np.ndarray, *, resamples: int = 200, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of :func:`fid` around the estimate, resampling the rows of both sets with replacement.

    A resample repeats rows, which shrinks the sets' spread and biases FID upward, so with
    a few hundred rows the resampled FIDs can all lie above the estimate. The interval is
    their ``level`` quantile range shifted so that their median falls on the estimate (the
    bootstrap's spread, centred on what was measured), clipped at 0.
    """
    real, generated = _matrix(real, "real"), _matrix(generated, "generated")
    _check_fid_inputs(real, generated)
    if resamples < 1:
        raise ValueError(f"expected resamples >= 1, found {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"expected a confidence level strictly between 0 and 1, found {level}")
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)  # (R,)
    for b in range(resamples):
        real_rows = rng.integers(0, real.shape[0], size=real.shape[0])  # (N,)
        generated_rows = rng.integers(0, generated.shape[0], size=generated.shape[0])  # (M,)
        values[b] = _frechet(real[real_rows], generated[generated_rows])
    low, median, high = np.percentile(values, [50.0 * (1.0 - level), 50.0, 50.0 * (1.0 + level)])
    estimate = _frechet(real, generated)
    return max(0.0, float(estimate + low - median)), float(estimate + high - median)


def r_precision(
    text: np.ndarray, motion: np.ndarray, *, batch_size: int = 32, top_k: int = 3, seed: int = 0
) -> list[float]:
    """Share of texts whose own motion is among their k nearest motions in a batch, for k = 1..``top_k``.

    Rows are shuffled with ``seed`` and cut into consecutive batches of ``batch_size``; an incomplete
    last batch is dropped. Within a batch, motions are ranked by euclidean distance to each text, ties
    broken by position in the shuffled batch (a stable sort, like Guo et al.'s ``argsort``).
    """
    text, motion = _pair(text, motion)
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, found {batch_size}")
    if not 1 <= top_k <= batch_size:
        raise ValueError(f"expected 1 <= top_k <= batch_size ({batch_size}), found top_k={top_k}")
    rows = text.shape[0]
    if rows < batch_size:
        raise ValueError(f"expected at least batch_size={batch_size} rows for one full batch, found {rows}")
    order = np.random.default_rng(seed).permutation(rows)  # (N,)
    batches = rows // batch_size
    own = np.arange(batch_size)  # (B,)
    hits = np.zeros(top_k, dtype=np.int64)  # (K,)
    for b in range(batches):
        picked = order[b * batch_size : (b + 1) * batch_size]  # (B,)
        distances = _distance_matrix(text[picked], motion[picked])  # (B, B)
        nearest = np.argsort(distances, axis=1, kind="stable")[:, :top_k]  # (B, K)
        found = np.cumsum(nearest == own[:, None], axis=1) > 0  # (B, K)
        hits += found.sum(axis=0)
    return [float(h) / (batches * batch_size) for h in hits]


def matching_distance(text: np.ndarray, motion: np.ndarray) -> float:
    """Mean euclidean distance between each text embedding and its own motion embedding (MM-Dist)."""
    text, motion = _pair(text, motion)
    return float(np.linalg.norm(text - motion, axis=1).mean())


def diversity(motion: np.ndarray, *, pairs: int = 300, seed: int = 0) -> float:
    """Mean euclidean distance between ``pairs`` random pairs of rows of ``motion`` (N, D); ``pairs`` is capped at N."""
    motion = _matrix(motion, "motion")
    if motion.shape[0] < 2:
        raise ValueError(f"expected at least 2 motions for diversity, found {motion.shape[0]}")
    if pairs < 1:
        raise ValueError(f"expected pairs >= 1, found {pairs}")
    rows = motion.shape[0]
    pairs = min(pairs, rows)
    rng = np.random.default_rng(seed)
    first = rng.choice(rows, size=pairs, replace=False)  # (P,)
    second = rng.choice(rows, size=pairs, replace=False)  # (P,)
    return float(np.linalg.norm(motion[first] - motion[second], axis=1).mean())


def multimodality(motion: np.ndarray, *, pairs: int = 10, seed: int = 0) -> float:
    """Mean distance between ``pairs`` random pairs of the K samples of each of C texts in ``motion`` (C, K, D).

    As in Guo et al., one draw of sample indices (capped at K) is shared by all texts.
    """
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 3:
        raise ValueError(f"expected motion embeddings of shape (texts, samples, dim), found shape {motion.shape}")
    texts, samples, dim = motion.shape
    if texts < 1 or dim < 1:
        raise ValueError(f"expected at least one text and one embedding dimension, found shape {motion.shape}")
    if samples < 2:
        raise ValueError(f"expected at least 2 samples per text for multimodality, found {samples}")
    if pairs < 1:
        raise ValueError(f"expected pairs >= 1, found {pairs}")
    _check_finite(motion, "motion")
    pairs = min(pairs, samples)
    rng = np.random.default_rng(seed)
    first = rng.choice(samples, size=pairs, replace=False)  # (P,)
    second = rng.choice(samples, size=pairs, replace=False)  # (P,)
    distances = np.linalg.norm(motion[:, first] - motion[:, second], axis=2)  # (C, P)
    return float(distances.mean())


def chance_r_precision(batch_size: int, top_k: int) -> list[float]:
    """R-precision of a random ranking: k / ``batch_size`` for k = 1..``top_k``."""
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, found {batch_size}")
    if not 1 <= top_k <= batch_size:
        raise ValueError(f"expected 1 <= top_k <= batch_size ({batch_size}), found top_k={top_k}")
    return [k / batch_size for k in range(1, top_k + 1)]


def _frechet(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance of checked float64 matrices (N, D) and (M, D)."""
    mean_diff = real.mean(axis=0) - generated.mean(axis=0)  # (D,)
    cov_real = np.atleast_2d(np.cov(real, rowvar=False))  # (D, D)
    cov_generated = np.atleast_2d(np.cov(generated, rowvar=False))  # (D, D)
    values, vectors = np.linalg.eigh(cov_real)  # (D,), (D, D)
    sqrt_real = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T  # (D, D)
    middle = sqrt_real @ cov_generated @ sqrt_real  # (D, D)
    middle = (middle + middle.T) / 2.0
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
    distance = mean_diff @ mean_diff + np.trace(cov_real) + np.trace(cov_generated) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def _check_fid_inputs(real: np.ndarray, generated: np.ndarray) -> None:
    """Raise ``ValueError`` unless both sets have at least 2 rows and the same dimension."""
    for name, rows in (("real", real.shape[0]), ("generated", generated.shape[0])):
        if rows < 2:
            raise ValueError(f"expected at least 2 {name} embeddings to fit a covariance, found {rows}")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"expected real and generated embeddings of the same dimension, found {real.shape[1]} and "
            f"{generated.shape[1]}"
        )


def _pair(text: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text and motion embeddings as float64 matrices of one shape (N, D), row i of each belonging together."""
    text, motion = _matrix(text, "text"), _matrix(motion, "motion")
    if text.shape != motion.shape:
        raise ValueError(
            f"expected text and motion embeddings of the same shape (N, D), found {text.shape} and {motion.shape}"
        )
    return text, motion


def _matrix(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` as a finite float64 matrix (N, D) with N, D >= 1."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"expected {name} embeddings of shape (N, D) with N, D >= 1, found shape {array.shape}")
    _check_finite(array, name)
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``array`` holds NaN or infinity."""
    if not np.isfinite(array).all():
        raise ValueError(
            f"expected finite {name} embeddings, found {int((~np.isfinite(array)).sum())} NaN or infinite values"
        )


def _distance_matrix(text: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Euclidean distances (B, B) between every text (B, D) and every motion (B, D)."""
    return np.linalg.norm(text[:, None, :] - motion[None, :, :], axis=2)  # (B, B)
