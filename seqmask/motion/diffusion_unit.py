"""MDM/MMDM training (a unit of :mod:`seqmask.training.loop`) and sampling with classifier-free guidance.

A step draws diffusion steps uniformly, noises the normalised windows, drops the text
of ``condition_dropout`` of them, draws the mask (none, time or body) and reads the
mean squared error of the x0 prediction over the real frames. The generators of
steps, noise, dropout and masks are the unit's state, so a resumed run continues the
draws of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from seqmask.masking.motion import motion_mask
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.denoiser import MotionDenoiser
from seqmask.motion.diffusion import cosine_alphas_cumprod, guided, q_sample, sample
from seqmask.motion.windows import TEMPLATE_COUNT, Windows
from seqmask.training.loop import shuffled_batches

if TYPE_CHECKING:
    from seqmask.motion.models import TrainedDenoiser


class DiffusionUnit:
    """Train ``model`` to denoise ``windows`` given ``texts`` ``(N, K, E)``: each window's caption embeddings, one per
    template."""

    def __init__(
        self,
        model: MotionDenoiser,
        windows: Windows,
        texts: Tensor,
        *,
        mask: MotionMaskParams,
        alphas_cumprod: Tensor,
        condition_dropout: float,
        batch_size: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self.model = model
        self.windows = windows
        self.texts = texts
        self.mask = mask
        self.alphas_cumprod = alphas_cumprod
        self.condition_dropout = condition_dropout
        self.batch_size = min(batch_size, len(windows.records))
        self.device = device
        self.draws = torch.Generator().manual_seed(seed)

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        return shuffled_batches(len(self.windows.records), self.batch_size, generator)

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        index = torch.tensor(batch)
        x0, lengths = self.windows.features[index], self.windows.lengths[index]  # (B, T, D), (B,)
        count, frames = len(batch), x0.size(1)
        t = torch.randint(0, len(self.alphas_cumprod), (count,), generator=self.draws)  # (B,)
        noise = torch.randn(x0.shape, generator=self.draws)  # (B, T, D)
        template = torch.randint(0, TEMPLATE_COUNT, (count,), generator=self.draws)  # (B,)
        keep_text = torch.rand(count, generator=self.draws) >= self.condition_dropout  # (B,)
        mask = motion_mask(self.mask, lengths, frames, len(self.model.part_mask_tokens), self.draws)
        padding = torch.arange(frames)[None, :] >= lengths[:, None]  # (B, T)
        x_t = q_sample(x0, t, noise, self.alphas_cumprod)  # (B, T, D)
        x_t, x0, padding = x_t.to(self.device), x0.to(self.device), padding.to(self.device)
        predicted = self.model(
            x_t,
            t.to(self.device),
            self.texts[index, template].to(self.device),
            keep_text.to(self.device),
            padding=padding,
            mask=None if mask is None else mask.to(self.device),
        )  # (B, T, D)
        real = (~padding).float()[..., None]  # (B, T, 1)
        loss = (((predicted - x0) ** 2) * real).sum() / (real.sum() * x0.size(2))
        return loss, {"masked": 0.0 if mask is None else float(mask.float().mean())}

    def identity(self) -> dict[str, Any]:
        return {
            "mask": dataclasses.asdict(self.mask),
            "windows": len(self.windows.records),
            "batch_size": self.batch_size,
            "condition_dropout": self.condition_dropout,
            "diffusion_steps": len(self.alphas_cumprod),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"draws": self.draws.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.draws.set_state(state["draws"])


def sample_motions(
    trained: TrainedDenoiser,
    texts: Tensor,
    frames: int,
    *,
    guidance: float,
    steps: int,
    eta: float,
    seed: int,
    device: torch.device,
) -> Tensor:
    """:func:`generate` with a trained denoiser on ``device`` and its own noise schedule."""
    return generate(
        trained.model.to(device),
        texts,
        frames,
        cosine_alphas_cumprod(trained.diffusion_steps),
        guidance=guidance,
        steps=steps,
        eta=eta,
        seed=seed,
        device=device,
    )


@torch.no_grad()
def generate(
    model: MotionDenoiser,
    texts: Tensor,
    frames: int,
    alphas_cumprod: Tensor,
    *,
    guidance: float,
    steps: int,
    eta: float,
    seed: int,
    device: torch.device,
    batch: int = 128,
) -> Tensor:
    """``(N, T, D)`` normalised motions for text embeddings ``(N, E)``, classifier-free guided."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, len(texts), batch):
        text = texts[start : start + batch].to(device)  # (B, E)

        def denoise(x: Tensor, t: Tensor, keep: Tensor, text: Tensor = text) -> Tensor:
            return model(
                x, t, text.repeat(len(x) // len(text), 1), keep
            )  # x, t, keep: (M, ...) with M a multiple of len(text)

        shape = (len(text), frames, model.output.out_features)
        out.append(
            sample(
                guided(denoise, guidance),
                shape,
                alphas_cumprod,
                steps=steps,
                eta=eta,
                generator=generator,
                device=device,
            ).cpu()
        )
    return torch.cat(out)
