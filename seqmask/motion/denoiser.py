"""The MDM denoiser (Tevet et al. 2022) with MMDM's masks of the motion embedding (Chen 2024).

A transformer encoder over ``[condition token, frame tokens]`` predicts the clean motion x0.
The condition token is the diffusion step's embedding plus the projected text
embedding (zeroed for classifier-free guidance's unconditional pass). A frame token
is the sum of per-part embeddings (torso/root, arms, legs: each part's features
through its own linear map), so one architecture serves every mask:

- time mask (MMDM-t): a masked frame's token is a learned mask token;
- body mask (MMDM-b): a masked part's embedding in a frame is that part's learned mask embedding.

Summing per-part linear maps is exactly one linear map of the whole frame, so with no
mask this is MDM's input projection. Masks are drawn by :mod:`seqmask.masking.motion`
and applied in training only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


def sinusoidal(positions: Tensor, dim: int) -> Tensor:
    """``(...,)`` positions -> ``(..., dim)`` sinusoidal embeddings."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half
    )  # (dim/2,)
    angles = positions.float()[..., None] * freqs  # (..., dim/2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class PartEmbedding(nn.Module):
    """Frame features ``(N, T, D)`` -> per-part embeddings ``(N, T, P, H)`` (each part's columns through its own
    map)."""

    def __init__(self, part_columns: Sequence[Sequence[int]], hidden: int) -> None:
        super().__init__()
        widest = max(len(columns) for columns in part_columns)
        index = torch.zeros(len(part_columns), widest, dtype=torch.long)
        valid = torch.zeros(len(part_columns), widest)
        for part, columns in enumerate(part_columns):
            index[part, : len(columns)] = torch.tensor(columns)
            valid[part, : len(columns)] = 1.0
        self.register_buffer("index", index, persistent=False)  # (P, C): feature column of each part slot
        self.register_buffer("valid", valid, persistent=False)  # (P, C): 1 where a slot holds a column
        self.weight = nn.Parameter(
            torch.randn(len(part_columns), widest, hidden) / math.sqrt(sum(map(len, part_columns)))
        )  # (P, C, H)

    def forward(self, x: Tensor) -> Tensor:
        slots = x[..., self.index] * self.valid  # (N, T, P, C)
        return torch.einsum("ntpc,pch->ntph", slots, self.weight)  # (N, T, P, H)


class MotionDenoiser(nn.Module):
    """x0 prediction from ``x_t``, the step and a text embedding, with optional training masks."""

    def __init__(
        self,
        *,
        features: int,
        part_columns: Sequence[Sequence[int]],
        text_dim: int,
        hidden: int = 128,
        layers: int = 4,
        heads: int = 4,
        ffn: int = 512,
        dropout: float = 0.1,
        max_frames: int = 256,
    ) -> None:
        super().__init__()
        columns = sorted(c for part in part_columns for c in part)
        if columns != list(range(features)):
            raise ValueError(
                f"part_columns must cover each of the {features} feature columns exactly once, found {len(columns)} "
                "columns"
            )
        self.hidden = hidden
        self.parts = PartEmbedding(part_columns, hidden)
        self.input_bias = nn.Parameter(torch.zeros(hidden))
        self.frame_mask_token = nn.Parameter(torch.randn(hidden) * 0.02)  # MMDM-t
        self.part_mask_tokens = nn.Parameter(torch.randn(len(part_columns), hidden) * 0.02)  # MMDM-b, (P, H)
        self.step_mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.text_proj = nn.Linear(text_dim, hidden)
        self.register_buffer(
            "positions", sinusoidal(torch.arange(max_frames + 1), hidden), persistent=False
        )  # (max_frames + 1, H)
        layer = nn.TransformerEncoderLayer(hidden, heads, ffn, dropout, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.output = nn.Linear(hidden, features)

    def forward(
        self,
        x_t: Tensor,
        t: Tensor,
        text: Tensor,
        keep_text: Tensor,
        *,
        padding: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``x_t`` (N, T, D), ``t`` (N,), ``text`` (N, E), ``keep_text`` (N,) bool, ``padding`` (N, T) True at padded
        frames, ``mask`` (N, T) time or (N, T, P) body -> x0 (N, T, D)."""
        parts = self.parts(x_t)  # (N, T, P, H)
        if mask is not None and mask.dim() == 3:
            parts = torch.where(mask[..., None], self.part_mask_tokens.to(parts.dtype), parts)
        tokens = parts.sum(dim=2) + self.input_bias  # (N, T, H)
        if mask is not None and mask.dim() == 2:
            tokens = torch.where(mask[..., None], self.frame_mask_token.to(tokens.dtype), tokens)
        step = self.step_mlp(sinusoidal(t, self.hidden))  # (N, H)
        condition = step + self.text_proj(text) * keep_text[:, None].to(step.dtype)  # (N, H)
        sequence = (
            torch.cat([condition[:, None], tokens], dim=1) + self.positions[: tokens.size(1) + 1]
        )  # (N, 1 + T, H)
        key_padding = None
        if padding is not None:
            key_padding = torch.cat([torch.zeros_like(padding[:, :1]), padding], dim=1)  # (N, 1 + T)
        hidden = self.encoder(sequence, src_key_padding_mask=key_padding)  # (N, 1 + T, H)
        return self.output(hidden[:, 1:])  # (N, T, D)
