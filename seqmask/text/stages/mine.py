"""Stages ``mine-<model>``: every validation and test pair set mined both ways with one encoder's sentence embeddings
(or character n-gram TF-IDF vectors, the floor), raw and with per-language centring."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from seqmask.files import write_json
from seqmask.data.bitext import Pair

from seqmask.text.mining import mine_both_ways
from seqmask.text.model import embed, load_encoder
from seqmask.text.ngrams import tfidf_vectors
from seqmask.text.stages.inputs import (
    encode,
    languages,
    mining_sets,
    pair_texts,
    vocabulary,
)
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext

SCORINGS = ("raw", "centred")
"""``raw`` cosine margins, and margins after subtracting each language's mean embedding."""
Embedder = Callable[[Sequence[Pair]], tuple[np.ndarray, np.ndarray]]


def build(ctx: StageContext) -> None:
    """``mining.json``: split -> pair -> scoring -> direction (``eng→sin``) -> xSIM error %, P@1 %, pairs."""
    vocab, language_ids = vocabulary(ctx), languages(ctx)
    model = load_encoder(ctx.input_path("model") / ctx.config["folder"]).to(default_device())
    layer = ctx.config["mine"].layer

    def embedder(pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        encoded = encode(pair_texts(pairs), vocab, None, "word")
        first, second = pairs[0].source_language, pairs[0].target_language
        sources = embed(model, [encoded[(first, p.source)] for p in pairs], language_ids[first], vocab.specials, layer=layer)
        targets = embed(model, [encoded[(second, p.target)] for p in pairs], language_ids[second], vocab.specials, layer=layer)
        return sources, targets  # (N, H), (N, H)

    write_json(ctx.out / "mining.json", mine_sets(ctx, embedder, k=ctx.config["mine"].k))


def build_ngrams(ctx: StageContext) -> None:
    """``mining.json`` of the character n-gram TF-IDF floor (no model)."""

    def embedder(pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        sources, targets = tfidf_vectors([[p.source for p in pairs], [p.target for p in pairs]])
        return sources, targets

    write_json(ctx.out / "mining.json", mine_sets(ctx, embedder, k=ctx.config["mine"].k))


def mine_sets(ctx: StageContext, embedder: Embedder, *, k: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for split in ("valid", "test"):
        for name, pairs in mining_sets(ctx, split).items():
            if not pairs:
                continue
            sources, targets = embedder(pairs)
            first, second = pairs[0].source_language, pairs[0].target_language
            found.setdefault(split, {})[name] = {
                scoring: {
                    (f"{first}→{second}" if way == "forward" else f"{second}→{first}"): result.as_row()
                    for way, result in mine_both_ways(sources, targets, k=k, centre=scoring == "centred").items()
                }
                for scoring in SCORINGS
            }
    return found
