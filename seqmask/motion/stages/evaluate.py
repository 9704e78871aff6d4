"""Stage ``motion-evaluate-<run>``: *scoring one trained denoiser* (a run's ``motion-train-<run>``) with the evaluator
model that :mod:`seqmask.motion.stages.evaluator` trains. Motions generated for every valid and test window's caption
(one per sampling seed, classifier-free guided, DDIM or DDPM) are scored: FID with its bootstrap interval, R-precision,
MM-Dist, diversity (overall and for captions seen / unseen in training) and multimodality."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from seqmask.eval.motion import multimodality
from seqmask.files import record_build, write_json
from seqmask.motion.artifacts import EVALUATOR, METRICS, MODEL, PREP, TEXT
from seqmask.motion.config import SamplingConfig
from seqmask.motion.contrastive import embed_motions
from seqmask.motion.diffusion_unit import sample_motions
from seqmask.motion.readers import denoiser, evaluator, skeleton, text_encoder, windows
from seqmask.motion.scoring import score_groups
from seqmask.motion.stages.evaluator import EVAL_SPLITS, embed_real, seen_pairs
from seqmask.training.device import default_device

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (PREP, TEXT, EVALUATOR, MODEL)
WRITES = (METRICS,)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What scoring a denoiser reads."""

    sampling: SamplingConfig
    """How motions are generated (sampler, guidance, seeds) and scored (R-precision batch, bootstrap, multimodality)."""


def build(ctx: StageContext) -> None:
    """``metrics.json``: split -> group (all, seen pair, unseen pair) -> FID (interval), R@1..3, MM-Dist, diversity; and
    ``multimodality`` and how many motions were generated (their time is in the build record)."""
    sampling = ctx.config.sampling
    trained, encoder, (judge, vocabulary) = denoiser(ctx), text_encoder(ctx), evaluator(ctx)
    skeleton_, train_windows, device = skeleton(ctx), windows(ctx, "train"), default_device()
    steps, eta = sampling.steps_and_eta(trained.diffusion_steps)

    def sample(conditions: torch.Tensor, seed: int) -> torch.Tensor:
        return sample_motions(
            trained,
            conditions,
            skeleton_.window,
            guidance=sampling.guidance,
            steps=steps,
            eta=eta,
            seed=seed,
            device=device,
        )

    results: dict = {"sampler": sampling.sampler, "guidance": sampling.guidance}
    seconds = generated_count = 0
    for split in EVAL_SPLITS:
        split_windows = windows(ctx, split)
        conditions = encoder.embed([split_windows.caption(i) for i in range(len(split_windows.records))])  # (N, E)
        started = time.perf_counter()
        motions = torch.cat([sample(conditions, seed) for seed in sampling.sampling_seeds])
        seconds += time.perf_counter() - started
        generated_count += len(motions)
        generated = embed_motions(
            judge, motions, torch.full((len(motions),), skeleton_.window), torch.device("cpu")
        ).numpy()  # (S N, E)
        real, texts = embed_real(judge, vocabulary, split_windows)
        results[split] = score_groups(
            real,
            texts,
            generated,
            seen_pairs(split_windows, train_windows),
            copies=len(sampling.sampling_seeds),
            batch_size=sampling.r_precision_batch,
            resamples=sampling.bootstrap,
        )
    test = windows(ctx, "test")
    captions = list(dict.fromkeys(test.caption(i) for i in range(len(test.records))))[: sampling.multimodality_captions]
    conditions = encoder.embed(captions).repeat_interleave(sampling.multimodality_samples, dim=0)  # (C K, E)
    motions = sample(conditions, sampling.sampling_seeds[0])
    embedded = embed_motions(judge, motions, torch.full((len(motions),), skeleton_.window), torch.device("cpu")).numpy()
    results["test"]["all"]["multimodality"] = multimodality(
        embedded.reshape(len(captions), sampling.multimodality_samples, -1)
    )
    results["generation"] = {"motions": generated_count}
    record_build(ctx.out, generation_seconds=round(seconds, 2), motions_per_second=round(generated_count / seconds, 2))
    write_json(ctx.out / METRICS, results)
