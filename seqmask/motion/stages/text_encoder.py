"""Stage ``motion-text-encoder``: the frozen sentence encoder the denoiser is conditioned on: word embeddings trained
contrastively against the training windows (no download), or a local CLIP (``motion.text_encoder.clip``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from seqmask.eval.motion import r_precision
from seqmask.files import write_json
from seqmask.motion.artifacts import MODEL_DIR, MODEL_WEIGHTS, PREP, SUMMARY
from seqmask.motion.captions import WordVocabulary
from seqmask.motion.config import TextEncoderConfig
from seqmask.motion.contrastive import ContrastiveUnit, embed_motions
from seqmask.motion.encoders import ConvMotionEncoder, TextMotionModel, WordBagEncoder
from seqmask.motion.models import SentenceEncoder, save_text_encoder
from seqmask.motion.readers import skeleton, windows
from seqmask.paths import resolve_path
from seqmask.training.device import default_device
from seqmask.training.loop import train

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (PREP,)
WRITES = (MODEL_WEIGHTS, SUMMARY)
Config = TextEncoderConfig
"""The stage's slice: the whole ``motion.text_encoder`` section."""


def build(ctx: StageContext) -> None:
    """``model/model.pt``, ``metrics.jsonl`` (trained here) and ``summary.json`` (R-precision of its own embeddings on
    valid)."""
    config: Config = ctx.config
    valid = windows(ctx, "valid")
    if config.clip is not None:
        encoder = SentenceEncoder(clip=str(resolve_path(config.clip)))
        summary = {"clip": encoder.clip}
    else:
        train_windows, features = windows(ctx, "train"), skeleton(ctx).features
        vocabulary = WordVocabulary.from_texts(
            c for i in range(len(train_windows.records)) for c in train_windows.captions(i)
        )
        device = default_device()

        def build_unit() -> ContrastiveUnit:
            model = TextMotionModel(
                WordBagEncoder(len(vocabulary.words), config.dim), ConvMotionEncoder(features, config.dim)
            ).to(device)
            return ContrastiveUnit(
                model,
                train_windows,
                vocabulary,
                batch_size=config.batch_size,
                temperature=0.1,
                seed=config.train.seed,
                device=device,
            )

        unit, summary = train(
            build_unit,
            config.train,
            out_dir=ctx.out,
            work_dir=ctx.scratch,
            device=device,
            progress=ctx.step_progress("text encoder steps"),
            desc="text encoder",
        )
        encoder = SentenceEncoder(model=unit.model.cpu().eval(), vocabulary=vocabulary)
        motions = embed_motions(encoder.model, valid.features, valid.lengths, torch.device("cpu")).numpy()
        texts = encoder.embed([valid.caption(i) for i in range(len(valid.records))]).numpy()
        summary["valid_r_precision"] = [
            round(v, 4) for v in r_precision(texts, motions, batch_size=min(32, len(texts)))
        ]
        summary["vocabulary"] = len(vocabulary.words)
    save_text_encoder(ctx.out / MODEL_DIR, encoder)
    summary["unknown_valid_words"] = (
        [] if config.clip else encoder.vocabulary.unknown([valid.caption(i) for i in range(len(valid.records))])
    )
    write_json(ctx.out / SUMMARY, summary)
