"""The MDM denoiser with MMDM's masks, the diffusion schedule and sampler, the training unit, and checkpoints that
refuse another mask, skeleton or text encoder."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.config import DenoiserConfig
from seqmask.motion.denoiser import MotionDenoiser
from seqmask.motion.diffusion import cosine_alphas_cumprod, guided, q_sample, sample, timesteps
from seqmask.motion.diffusion_unit import DiffusionUnit
from seqmask.motion.models import build_denoiser, load_denoiser, save_denoiser
from seqmask.motion.prep import WindowRecord
from seqmask.motion.windows import Skeleton, Windows
from seqmask.training.config import TrainingConfig
from seqmask.training.loop import train

PARTS = ((0, 1, 2, 3), (4, 5), (6, 7, 8))
SKELETON = Skeleton(("a", "b", "c"), (-1, 0, 1), ("torso", "arm", "leg"), PARTS, 9, 20, 12)


def denoiser(**kwargs) -> MotionDenoiser:
    torch.manual_seed(0)
    return MotionDenoiser(
        features=9, part_columns=PARTS, text_dim=4, hidden=16, layers=1, heads=2, ffn=32, dropout=0.0, **kwargs
    ).eval()


def inputs(n: int = 3, frames: int = 12):
    generator = torch.Generator().manual_seed(1)
    return (
        torch.randn(n, frames, 9, generator=generator),
        torch.tensor([5, 500, 999][:n]),
        torch.randn(n, 4, generator=generator),
        torch.ones(n, dtype=torch.bool),
    )


def test_a_time_masked_frame_does_not_reach_the_model_and_other_frames_do() -> None:
    model, (x, t, text, keep) = denoiser(), inputs()
    mask = torch.zeros(3, 12, dtype=torch.bool)
    mask[:, 4] = True
    changed = x.clone()
    changed[:, 4] += 10.0
    assert torch.allclose(model(x, t, text, keep, mask=mask), model(changed, t, text, keep, mask=mask), atol=1e-5)
    assert not torch.allclose(model(x, t, text, keep), model(changed, t, text, keep), atol=1e-3)


def test_a_body_masked_part_does_not_reach_the_model_and_the_other_parts_do() -> None:
    model, (x, t, text, keep) = denoiser(), inputs()
    mask = torch.zeros(3, 12, 3, dtype=torch.bool)
    mask[:, 2, 1] = True  # the arm (columns 4, 5) of frame 2
    arm, leg = x.clone(), x.clone()
    arm[:, 2, 4:6] += 10.0
    leg[:, 2, 6:9] += 10.0
    assert torch.allclose(model(x, t, text, keep, mask=mask), model(arm, t, text, keep, mask=mask), atol=1e-5)
    assert not torch.allclose(model(x, t, text, keep, mask=mask), model(leg, t, text, keep, mask=mask), atol=1e-3)


def test_dropping_the_text_removes_it_and_padding_does_not_reach_real_frames() -> None:
    model, (x, t, text, keep) = denoiser(), inputs()
    dropped = torch.zeros(3, dtype=torch.bool)
    assert torch.allclose(model(x, t, text, dropped), model(x, t, -text, dropped), atol=1e-6)
    padding = torch.arange(12)[None].expand(3, 12) >= 8
    changed = x.clone()
    changed[:, 8:] += 10.0
    assert torch.allclose(
        model(x, t, text, keep, padding=padding)[:, :8],
        model(changed, t, text, keep, padding=padding)[:, :8],
        atol=1e-5,
    )


def test_part_columns_must_cover_every_feature_once() -> None:
    with pytest.raises(ValueError, match="part_columns must cover each of the 9 feature columns exactly once, found 8"):
        MotionDenoiser(
            features=9, part_columns=((0, 1, 2), (4, 5), (6, 7, 8)), text_dim=4, hidden=16, layers=1, heads=2
        )


def test_the_cosine_schedule_and_noising() -> None:
    alphas = cosine_alphas_cumprod(1000)
    assert (
        alphas.shape == (1000,)
        and bool((alphas[1:] < alphas[:-1]).all())
        and 0.99 < float(alphas[0])
        and float(alphas[-1]) < 1e-3
    )
    x0, noise = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    assert torch.allclose(q_sample(x0, torch.tensor([0, 999]), noise, alphas)[:, 0, 0], alphas[[0, 999]].sqrt().float())
    assert timesteps(1000, 50)[0] == 999 and timesteps(1000, 50)[-1] == 0 and len(timesteps(1000, 50)) == 50
    assert timesteps(1000, 1000) == list(range(999, -1, -1))
    with pytest.raises(ValueError, match=r"sampling steps must lie in \[1, 1000\], got 0"):
        timesteps(1000, 0)


@pytest.mark.parametrize(("steps", "eta"), [(1000, 1.0), (50, 0.0)])
def test_ddpm_and_ddim_with_a_perfect_denoiser_end_at_its_x0(steps, eta) -> None:
    target = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    out = sample(
        lambda x, t: target,
        (2, 5, 3),
        cosine_alphas_cumprod(1000),
        steps=steps,
        eta=eta,
        generator=torch.Generator().manual_seed(1),
        device=torch.device("cpu"),
    )
    assert torch.allclose(out, target, atol=1e-4)


def test_guidance_extrapolates_from_unconditional_to_conditional_in_one_batch() -> None:
    calls = []

    def denoise(x, t, keep):
        calls.append(len(x))
        return torch.where(keep[:, None, None], torch.ones_like(x), torch.zeros_like(x))

    assert torch.allclose(
        guided(denoise, 2.5)(torch.zeros(3, 2, 1), torch.zeros(3, dtype=torch.long)), torch.full((3, 2, 1), 2.5)
    )
    assert calls == [6]


def unit_for(mask: MotionMaskParams, seed: int = 0) -> DiffusionUnit:
    generator = torch.Generator().manual_seed(2)
    records = [WindowRecord(clip=f"c{i}", start=0, length=12, content="bow", style="sad") for i in range(8)]
    windows = Windows(torch.randn(8, 12, 9, generator=generator), torch.tensor([12, 12, 12, 12, 8, 8, 12, 12]), records)
    return DiffusionUnit(
        build_denoiser(DenoiserConfig(hidden=16, layers=1, heads=2, ffn=32), SKELETON, 4),
        windows,
        torch.randn(8, 3, 4, generator=generator),
        mask=mask,
        alphas_cumprod=cosine_alphas_cumprod(100),
        condition_dropout=0.1,
        batch_size=8,
        seed=seed,
        device=torch.device("cpu"),
    )


@pytest.mark.parametrize("kind", ["none", "time", "body"])
def test_every_mask_learns_a_repeated_batch(tmp_path: Path, kind: str) -> None:
    mask = MotionMaskParams(kind=kind, ratio=0.3)
    config = TrainingConfig(steps=150, lr=3e-3, warmup_steps=10, log_every=10, checkpoint_every=1000)
    _, summary = train(
        lambda: unit_for(mask), config, out_dir=tmp_path / "out", work_dir=tmp_path / "work", device=torch.device("cpu")
    )
    rows = [line for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    first = float(rows[0].split('"loss": ')[1].split(",")[0])
    assert summary["final_loss"] < 0.7 * first and math.isfinite(summary["final_loss"])


def test_a_checkpoint_of_another_mask_skeleton_or_text_encoder_is_refused(tmp_path: Path) -> None:
    model = build_denoiser(DenoiserConfig(hidden=16, layers=1, heads=2, ffn=32), SKELETON, 4)
    mask = MotionMaskParams(kind="time", ratio=0.3)
    save_denoiser(
        tmp_path,
        model,
        config=DenoiserConfig(hidden=16, layers=1, heads=2, ffn=32),
        mask=mask,
        skeleton=SKELETON,
        diffusion_steps=100,
        text={"dim": 4, "vocabulary": ["<pad>"]},
        text_dim=4,
    )
    loaded = load_denoiser(tmp_path, SKELETON, mask=mask)
    assert loaded.mask == mask and loaded.diffusion_steps == 100
    with pytest.raises(
        ValueError, match=r"was trained with mask MotionMaskParams\(kind='time'.*expected MotionMaskParams\(kind='body'"
    ):
        load_denoiser(tmp_path, SKELETON, mask=MotionMaskParams(kind="body"))
    other = dataclasses.replace(SKELETON, joints=("a", "b", "x"))
    with pytest.raises(
        ValueError, match=r"model.pt was trained on another skeleton or feature layout \(differs in \['joints'\]\)"
    ):
        load_denoiser(tmp_path, other)
    with pytest.raises(ValueError, match="conditioned on another text encoder"):
        load_denoiser(tmp_path, SKELETON, text={"clip": "/somewhere"})
    with pytest.raises(ValueError, match=r"expected a 'motion-evaluator' checkpoint, found 'motion-denoiser'"):
        from seqmask.motion.models import load_evaluator

        load_evaluator(tmp_path, SKELETON)
