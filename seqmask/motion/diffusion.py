"""Gaussian diffusion for x0-predicting denoisers (MDM): the cosine schedule, noising, and one sampler that is DDPM
(every step, ``eta = 1``) or DDIM (a subsequence of steps, ``eta = 0``), with classifier-free guidance.

With every one of the T steps and ``eta = 1`` the DDIM update is exactly DDPM's ancestral
step with the posterior variance (Song et al. 2021, eq. 16), so one loop serves both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Denoise = Callable[[Tensor, Tensor], Tensor]
"""``(x_t (N, T, D), t (N,)) -> predicted x0 (N, T, D)`` (guidance already applied)."""


def cosine_alphas_cumprod(steps: int, s: float = 0.008) -> Tensor:
    """``(steps,)`` ᾱ_t of Nichol & Dhariwal's cosine schedule (betas clipped at 0.999, as MDM)."""
    x = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos((x / steps + s) / (1 + s) * math.pi / 2) ** 2  # (steps + 1,)
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)  # (steps,)
    return torch.cumprod(1 - betas, dim=0)


def q_sample(x0: Tensor, t: Tensor, noise: Tensor, alphas_cumprod: Tensor) -> Tensor:
    """``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε``: ``(N, T, D)`` at steps ``t`` ``(N,)``."""
    a = alphas_cumprod.to(x0.device)[t].to(x0.dtype)[:, None, None]  # (N, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def timesteps(diffusion_steps: int, sampling_steps: int) -> list[int]:
    """The steps a sampler visits, from ``diffusion_steps - 1`` down to 0, ``sampling_steps`` of them evenly spaced."""
    if not 1 <= sampling_steps <= diffusion_steps:
        raise ValueError(f"sampling steps must lie in [1, {diffusion_steps}], got {sampling_steps}")
    return sorted(
        {round(i * (diffusion_steps - 1) / max(1, sampling_steps - 1)) for i in range(sampling_steps)}, reverse=True
    )


@torch.no_grad()
def sample(
    denoise: Denoise,
    shape: tuple[int, ...],
    alphas_cumprod: Tensor,
    *,
    steps: int,
    eta: float,
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """Draw ``shape`` = (N, T, D) samples from noise; ``steps`` = T and ``eta`` = 1 is DDPM, fewer steps and ``eta`` = 0
    DDIM."""
    x = torch.randn(shape, generator=generator).to(device)  # (N, T, D)
    visited = timesteps(len(alphas_cumprod), steps)
    for i, t in enumerate(visited):
        a_t = float(alphas_cumprod[t])
        a_prev = float(alphas_cumprod[visited[i + 1]]) if i + 1 < len(visited) else 1.0
        x0 = denoise(x, torch.full((shape[0],), t, dtype=torch.long, device=device))  # (N, T, D)
        eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        x = math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1 - a_prev - sigma**2)) * eps
        if sigma > 0:
            x = x + sigma * torch.randn(shape, generator=generator).to(device)
    return x


def guided(denoise_cond: Callable[[Tensor, Tensor, Tensor], Tensor], scale: float) -> Denoise:
    """Classifier-free guidance ``x0_uncond + scale * (x0_cond - x0_uncond)``, both passes in one batch;
    ``denoise_cond(x (M, T, D), t (M,), keep_text (M,) bool)``."""

    def denoise(x: Tensor, t: Tensor) -> Tensor:
        if scale == 1.0:
            return denoise_cond(x, t, torch.ones(len(x), dtype=torch.bool, device=x.device))
        keep = torch.cat([torch.zeros(len(x), dtype=torch.bool), torch.ones(len(x), dtype=torch.bool)]).to(
            x.device
        )  # (2N,)
        unconditional, conditional = denoise_cond(torch.cat([x, x]), torch.cat([t, t]), keep).chunk(2)  # (N, T, D) each
        return unconditional + scale * (conditional - unconditional)

    return denoise
