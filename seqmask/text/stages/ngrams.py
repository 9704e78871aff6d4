"""Stage ``text-ngrams``: the floor every encoder must beat: every validation and test pair set mined both ways with
character n-gram TF-IDF vectors (no model), raw and with per-language centring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seqmask.data.bitext import Pair
from seqmask.files import write_json
from seqmask.text.artifacts import CORPUS, MINING, MINING_SPLITS
from seqmask.text.mining import mine_sets
from seqmask.text.ngrams import tfidf_vectors
from seqmask.text.readers import mining_sets

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.config import MineConfig

VERSION = 1
ROLES = (CORPUS,)
WRITES = (MINING,)


@dataclass(frozen=True, kw_only=True)
class Config:
    """How the pair sets are mined."""

    mine: MineConfig
    """The margin's neighbours (``k``; both scorings are written)."""


def build(ctx: StageContext) -> None:
    """``mining.json`` of the character n-gram TF-IDF floor, laid out as a ``text-mine-<model>`` stage's."""

    def embedder(pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        sources, targets = tfidf_vectors([[p.source for p in pairs], [p.target for p in pairs]])
        return sources, targets  # (N, dims), (N, dims)

    sets = {split: mining_sets(ctx, split) for split in MINING_SPLITS}
    write_json(ctx.out / MINING, mine_sets(sets, embedder, k=ctx.config.mine.k))
