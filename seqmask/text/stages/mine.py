"""Stages ``text-mine-<model>``: every validation and test pair set mined both ways with one encoder's sentence
embeddings, raw and with per-language centring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seqmask.data.bitext import Pair
from seqmask.files import write_json
from seqmask.text.artifacts import CORPUS, ENCODER, MINING, MINING_SPLITS, TOKENIZER
from seqmask.text.mining import mine_sets
from seqmask.text.model import embed, load_encoder
from seqmask.text.readers import encode, encoder_folder, languages, mining_sets, pair_texts, vocabulary
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.config import MineConfig

VERSION = 1
ROLES = (CORPUS, TOKENIZER, ENCODER)
WRITES = (MINING,)


@dataclass(frozen=True, kw_only=True)
class Config:
    """How sentences are embedded and mined, and which encoder folder of the ``model`` input."""

    mine: MineConfig
    """The hidden layer pooled and the margin's neighbours (both scorings are written)."""
    folder: str
    """The encoder folder of the input: ``model``, ``mlm_model`` or ``untrained``."""


def build(ctx: StageContext) -> None:
    """``mining.json``: split -> pair -> scoring -> direction (``eng→sin``) -> xSIM error %, P@1 %, pairs."""
    vocab, language_ids = vocabulary(ctx), languages(ctx)
    model = load_encoder(encoder_folder(ctx, ENCODER, ctx.config.folder)).to(default_device())
    layer = ctx.config.mine.layer

    def embedder(pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        encoded = encode(pair_texts(pairs), vocab, None, "word")
        first, second = pairs[0].source_language, pairs[0].target_language
        sources = embed(
            model, [encoded[(first, p.source)] for p in pairs], language_ids[first], vocab.specials, layer=layer
        )
        targets = embed(
            model, [encoded[(second, p.target)] for p in pairs], language_ids[second], vocab.specials, layer=layer
        )
        return sources, targets  # (N, H), (N, H)

    sets = {split: mining_sets(ctx, split) for split in MINING_SPLITS}
    write_json(ctx.out / MINING, mine_sets(sets, embedder, k=ctx.config.mine.k))
