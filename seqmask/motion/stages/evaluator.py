"""Stage ``motion-evaluator``: *training* the text-motion contrastive evaluator model (Guo et al. style) on the training
windows, used only for metrics; and what real motion scores with it: R-precision, MM-Dist and diversity of the real
windows, and the FID floors every generated set is read against, on valid and test. Scoring one trained denoiser with
it is :mod:`seqmask.motion.stages.evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from seqmask.eval.motion import diversity, matching_distance
from seqmask.files import write_json
from seqmask.motion.artifacts import MODEL_DIR, MODEL_WEIGHTS, PREP, REAL, SUMMARY, TRAINING_LOG
from seqmask.motion.captions import WordVocabulary
from seqmask.motion.config import EvaluatorConfig, SamplingConfig
from seqmask.motion.contrastive import ContrastiveUnit, embed_motions, embed_texts
from seqmask.motion.models import build_evaluator, save_evaluator
from seqmask.motion.readers import skeleton, windows
from seqmask.motion.scoring import floors, r_precisions
from seqmask.training.device import default_device
from seqmask.training.loop import train

if TYPE_CHECKING:
    from seqmask.motion.encoders import TextMotionModel
    from seqmask.motion.windows import Windows
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (PREP,)
WRITES = (MODEL_WEIGHTS, TRAINING_LOG, REAL, SUMMARY)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What training the evaluator and scoring real motion with it read."""

    evaluator: EvaluatorConfig
    """The evaluator model and its training."""
    sampling: SamplingConfig
    """R-precision's batch, the sampling seeds (copies of the floors) and the bootstrap resamples."""


EVAL_SPLITS = ("valid", "test")


def build(ctx: StageContext) -> None:
    """``model/model.pt``, ``metrics.jsonl``, ``real.json`` (split -> real-motion metrics, floors and caption counts)
    and ``summary.json``."""
    config, sampling = ctx.config.evaluator, ctx.config.sampling
    skeleton_, train_windows = skeleton(ctx), windows(ctx, "train")
    vocabulary = WordVocabulary.from_texts(
        c for i in range(len(train_windows.records)) for c in train_windows.captions(i)
    )
    device = default_device()

    def build_unit() -> ContrastiveUnit:
        model = build_evaluator(config, vocabulary, skeleton_.features).to(device)
        return ContrastiveUnit(
            model,
            train_windows,
            vocabulary,
            batch_size=config.batch_size,
            temperature=config.temperature,
            seed=config.train.seed,
            device=device,
        )

    unit, summary = train(
        build_unit,
        config.train,
        out_dir=ctx.out,
        work_dir=ctx.scratch,
        device=device,
        progress=ctx.step_progress("evaluator steps"),
        desc="evaluator",
    )
    model = unit.model.cpu().eval()
    save_evaluator(ctx.out / MODEL_DIR, model, config, vocabulary, skeleton_)
    cpu = torch.device("cpu")
    train_motion = embed_motions(model, train_windows.features, train_windows.lengths, cpu).numpy()  # (N_train, E)
    static = embed_motions(
        model, torch.zeros(1, skeleton_.window, skeleton_.features), torch.tensor([skeleton_.window]), cpu
    ).numpy()[0]
    real = {}
    for split in EVAL_SPLITS:
        split_windows = windows(ctx, split)
        motions, texts = embed_real(model, vocabulary, split_windows)
        seen = seen_pairs(split_windows, train_windows)
        real[split] = {
            "r_precision": r_precisions(texts, motions, sampling.r_precision_batch),
            "mm_dist": matching_distance(texts, motions),
            "diversity": diversity(motions, pairs=min(300, len(motions))),
            "floors": floors(
                motions,
                train_motion,
                static,
                split_windows.pairs,
                train_windows.pairs,
                copies=len(sampling.sampling_seeds),
                resamples=sampling.bootstrap,
            ),
            "windows": len(motions),
            "seen_pair_windows": int(sum(seen)),
            "captions": len(set(split_windows.pairs)),
            "seen_pair_captions": len({p for p, s in zip(split_windows.pairs, seen) if s}),
        }
    write_json(ctx.out / REAL, real)
    write_json(ctx.out / SUMMARY, {**summary, "test_r_precision": real["test"]["r_precision"]})


def embed_real(
    model: TextMotionModel, vocabulary: WordVocabulary, split_windows: Windows
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluator embeddings of a split's real windows and of their evaluation captions, ``(N, E)`` each."""
    cpu = torch.device("cpu")
    motions = embed_motions(model, split_windows.features, split_windows.lengths, cpu).numpy()
    texts = embed_texts(
        model, [split_windows.caption(i) for i in range(len(split_windows.records))], vocabulary, cpu
    ).numpy()
    return motions, texts


def seen_pairs(split_windows: Windows, train_windows: Windows) -> list[bool]:
    """Whether each window's (content, style) pair has a training window."""
    train_pairs = set(train_windows.pairs)
    return [pair in train_pairs for pair in split_windows.pairs]
