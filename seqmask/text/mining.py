"""Bitext mining by ratio margin (Artetxe and Schwenk 2019) and the xSIM error rate, in memory linear in N.

For source embeddings ``x`` and target embeddings ``y`` (line ``i`` of one side
translates line ``i`` of the other), the margin of a pair is

    margin(x, y) = cos(x, y) / (mean_{z in NN_k(x)} cos(x, z) / 2 + mean_{v in NN_k(y)} cos(y, v) / 2)

where ``NN_k(x)`` are the ``k`` nearest targets of ``x`` and ``NN_k(y)`` the ``k``
nearest sources of ``y``. Each source is matched to the best-margin target among
its ``k`` nearest by cosine (LASER's candidate rule); xSIM error is the share of
sources whose match is not their own translation. P@1 is the share whose nearest
target by plain cosine is their translation.

Neighbours come from a faiss flat inner-product index (exact) or, for a check,
from chunked torch matrix products: neither holds the N x N similarity matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqmask.data.bitext import Pair

SEARCH_CHUNK = 4096
"""Queries per torch search chunk: the chunk's similarity rows (chunk x N floats) are all it holds at once."""
SCORINGS = ("raw", "centred")
"""``raw`` cosine margins, and margins after subtracting each language's mean embedding."""
Embedder = Callable[[Sequence[Pair]], tuple[np.ndarray, np.ndarray]]
"""The source and target embeddings ``(N, D)``, ``(N, D)`` of a pair set (one language pair)."""


@dataclass(frozen=True)
class MiningResult:
    """One direction of mining: errors in %, over ``pairs`` sentences."""

    xsim_error: float
    p_at_1: float
    pairs: int
    matches: np.ndarray  # (N,) the target each source was matched to by margin

    def as_row(self) -> dict[str, float]:
        return {"xsim_error": round(self.xsim_error, 2), "p_at_1": round(self.p_at_1, 2), "pairs": self.pairs}


def normalise(embeddings: np.ndarray, *, centre: np.ndarray | None = None) -> np.ndarray:
    """Rows as float32 unit vectors ``(N, D)``, after subtracting ``centre`` ``(D,)`` when given (per-language
    centring)."""
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (N, D), got {embeddings.shape}")
    rows = embeddings.astype(np.float32, copy=True)
    if centre is not None:
        rows -= centre.astype(np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def nearest(queries: np.ndarray, base: np.ndarray, k: int, *, backend: str = "faiss") -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities and indices of each query's ``k`` nearest base rows (unit vectors): ``(Q, k)``,
    ``(Q, k)``."""
    k = min(k, len(base))
    if backend == "faiss":
        import faiss

        index = faiss.IndexFlatIP(base.shape[1])
        index.add(np.ascontiguousarray(base))
        return index.search(np.ascontiguousarray(queries), k)
    if backend == "torch":
        import torch

        base_t = torch.from_numpy(base)  # (N, D)
        similarities, indices = [], []
        for start in range(0, len(queries), SEARCH_CHUNK):
            chunk = torch.from_numpy(queries[start : start + SEARCH_CHUNK]) @ base_t.T  # (chunk, N)
            top = chunk.topk(k, dim=1)
            similarities.append(top.values.numpy())
            indices.append(top.indices.numpy())
            del chunk  # before the next product: one chunk of similarities alive at a time
        return np.concatenate(similarities), np.concatenate(indices)
    raise ValueError(f"backend: expected 'faiss' or 'torch', found {backend!r}")


def check_k(k: int, name: str = "k") -> None:
    """``ValueError`` naming ``name`` unless ``k`` (neighbours in the ratio margin) is at least 1."""
    if k < 1:
        raise ValueError(f"{name}: expected an integer >= 1 (neighbours in the ratio margin), found {k}")


def mine(source: np.ndarray, target: np.ndarray, *, k: int = 4, backend: str = "faiss") -> MiningResult:
    """Match every source row to a target row by ratio margin; unit-vector embeddings ``(N, D)`` aligned by row."""
    check_k(k)
    if source.shape != target.shape:
        raise ValueError(
            f"source and target embeddings must have the same shape (aligned lines), got {source.shape} and "
            f"{target.shape}"
        )
    pairs = len(source)
    forward_sim, forward_idx = nearest(source, target, k, backend=backend)  # (N, k): targets near each source
    backward_sim, _ = nearest(target, source, k, backend=backend)  # (N, k): sources near each target
    source_density = forward_sim.mean(axis=1) / 2  # (N,)
    target_density = backward_sim.mean(axis=1) / 2  # (N,)
    margins = forward_sim / (source_density[:, None] + target_density[forward_idx])  # (N, k)
    matches = forward_idx[np.arange(pairs), margins.argmax(axis=1)]  # (N,)
    gold = np.arange(pairs)
    return MiningResult(
        xsim_error=100.0 * float(np.mean(matches != gold)),
        p_at_1=100.0 * float(np.mean(forward_idx[:, 0] == gold)),
        pairs=pairs,
        matches=matches,
    )


def mine_both_ways(
    first: np.ndarray, second: np.ndarray, *, k: int = 4, centre: bool = False, backend: str = "faiss"
) -> dict[str, MiningResult]:
    """xSIM both ways between two aligned embedding sets ``(N, D)``; ``centre`` subtracts each side's mean first."""
    a = normalise(first, centre=first.mean(axis=0) if centre else None)
    b = normalise(second, centre=second.mean(axis=0) if centre else None)
    return {"forward": mine(a, b, k=k, backend=backend), "backward": mine(b, a, k=k, backend=backend)}


def mine_sets(sets: Mapping[str, Mapping[str, Sequence[Pair]]], embedder: Embedder, *, k: int) -> dict[str, Any]:
    """Every pair set of every split (split -> name -> pairs) mined both ways with ``embedder``'s embeddings, with each
    of :data:`SCORINGS`: split -> name -> scoring -> direction (``eng→sin``) -> xSIM error %, P@1 %, pairs. An empty set
    is left out."""
    found: dict[str, Any] = {}
    for split, named in sets.items():
        for name, pairs in named.items():
            if not pairs:
                continue
            sources, targets = embedder(pairs)  # (N, D), (N, D)
            first, second = pairs[0].source_language, pairs[0].target_language
            found.setdefault(split, {})[name] = {
                scoring: {
                    (f"{first}→{second}" if way == "forward" else f"{second}→{first}"): result.as_row()
                    for way, result in mine_both_ways(sources, targets, k=k, centre=scoring == "centred").items()
                }
                for scoring in SCORINGS
            }
    return found
