"""Stage ``motion-train-<mask>-s<seed>``: the MDM denoiser trained with one mask (none, time or body) on the training
windows, conditioned on the frozen text encoder; a resumable unit of the shared loop. The artifact is self-contained
for ``seqmask generate`` (denoiser, text encoder, skeleton, statistics)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from seqmask.files import record_build, write_json
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.artifacts import (
    MODEL_DIR,
    MODEL_FILE,
    MODEL_WEIGHTS,
    PREP,
    PREP_COPIES,
    PREP_DIR,
    SUMMARY,
    TEXT,
    TEXT_ENCODER_DIR,
    TRAINING_LOG,
)
from seqmask.motion.config import DenoiserConfig, DiffusionConfig
from seqmask.motion.diffusion import cosine_alphas_cumprod
from seqmask.motion.diffusion_unit import DiffusionUnit
from seqmask.motion.models import build_denoiser, save_denoiser
from seqmask.motion.readers import prep_file, skeleton, text_encoder, text_encoder_folder, windows
from seqmask.motion.windows import TEMPLATE_COUNT
from seqmask.training.device import default_device
from seqmask.training.loop import train

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (PREP, TEXT)
WRITES = (
    MODEL_WEIGHTS,
    f"{TEXT_ENCODER_DIR}/{MODEL_FILE}",
    *(f"{PREP_DIR}/{name}" for name in PREP_COPIES),
    TRAINING_LOG,
    SUMMARY,
)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What training one run's denoiser reads."""

    mask: MotionMaskParams
    """The run's mask (none, time or body, and its ratio)."""
    denoiser: DenoiserConfig
    """The denoiser's architecture."""
    diffusion: DiffusionConfig
    """The diffusion schedule and the training, its seed offset by the run's."""


def build(ctx: StageContext) -> None:
    """``model/model.pt`` (denoiser), ``text_encoder/``, ``prep/`` (skeleton, statistics, BVH hierarchy),
    ``metrics.jsonl``, ``summary.json``."""
    config, mask = ctx.config.diffusion, ctx.config.mask
    skeleton_, train_windows, encoder = skeleton(ctx), windows(ctx, "train"), text_encoder(ctx)
    texts = encoder.embed([c for i in range(len(train_windows.records)) for c in train_windows.captions(i)])  # (N K, E)
    texts = texts.view(len(train_windows.records), TEMPLATE_COUNT, -1)  # (N, K, E)
    alphas_cumprod = cosine_alphas_cumprod(config.steps)
    device = default_device()

    def build_unit() -> DiffusionUnit:
        model = build_denoiser(ctx.config.denoiser, skeleton_, texts.size(-1)).to(device)
        return DiffusionUnit(
            model,
            train_windows,
            texts,
            mask=mask,
            alphas_cumprod=alphas_cumprod,
            condition_dropout=config.condition_dropout,
            batch_size=config.batch_size,
            seed=config.train.seed,
            device=device,
        )

    unit, summary = train(
        build_unit,
        config.train,
        out_dir=ctx.out,
        work_dir=ctx.scratch,
        device=device,
        progress=ctx.step_progress("denoiser steps"),
        desc=f"MDM mask={mask.kind}",
    )
    save_denoiser(
        ctx.out / MODEL_DIR,
        unit.model.cpu(),
        config=ctx.config.denoiser,
        mask=mask,
        skeleton=skeleton_,
        diffusion_steps=config.steps,
        text=encoder.identity,
        text_dim=texts.size(-1),
    )
    shutil.copytree(text_encoder_folder(ctx), ctx.out / TEXT_ENCODER_DIR)
    (ctx.out / PREP_DIR).mkdir()
    for name in PREP_COPIES:
        shutil.copy2(prep_file(ctx, name), ctx.out / PREP_DIR / name)
    summary["parameters"] = sum(p.numel() for p in unit.model.parameters())
    summary["device"] = str(device)
    record_build(ctx.out, threads=torch.get_num_threads())
    write_json(ctx.out / SUMMARY, {**summary, "mask": mask.kind, "ratio": mask.ratio})
