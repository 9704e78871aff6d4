"""MMDM's masks of the motion embedding: pure functions of lengths, sizes, parameters and a generator.

``time_mask`` hides whole frame tokens; ``body_mask`` hides whole body parts (a part's
features together, never a part split) in a share of frames. Both count only a
motion's valid frames (``lengths``), so padding is never chosen, and both draw
exactly ``round(ratio * length)`` frames per motion.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seqmask.masking.params.motion import MotionMaskParams
from seqmask.masking.spans import check_lengths


def chosen_frames(lengths: Tensor, frames: int, ratio: float, generator: torch.Generator) -> Tensor:
    """``(N, T)``: ``round(ratio * length)`` distinct valid frames of each motion, uniformly drawn."""
    check_lengths(lengths, frames)
    scores = torch.rand(len(lengths), frames, generator=generator)  # (N, T)
    valid = torch.arange(frames)[None, :] < lengths[:, None]  # (N, T)
    scores = scores.masked_fill(~valid, 2.0)  # padding sorts last
    counts = torch.round(ratio * lengths.double()).long()  # (N,)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # (N, T): rank of each frame's score in its row
    return ranks < counts[:, None]


def time_mask(lengths: Tensor, frames: int, ratio: float, generator: torch.Generator) -> Tensor:
    """MMDM-t: ``(N, T)`` True where a frame token is replaced by the mask token."""
    return chosen_frames(lengths, frames, ratio, generator)


def body_mask(
    lengths: Tensor, frames: int, parts: int, ratio: float, parts_per_frame: int, generator: torch.Generator
) -> Tensor:
    """MMDM-b: ``(N, T, P)`` True where part ``p`` of frame ``t`` is replaced by that part's mask embedding;
    ``parts_per_frame`` distinct parts in each of ``round(ratio * length)`` frames."""
    if not 1 <= parts_per_frame <= parts:
        raise ValueError(f"parts_per_frame must lie in [1, parts = {parts}], got {parts_per_frame}")
    frame_chosen = chosen_frames(lengths, frames, ratio, generator)  # (N, T)
    part_scores = torch.rand(len(lengths), frames, parts, generator=generator)  # (N, T, P)
    part_ranks = part_scores.argsort(dim=2).argsort(dim=2)  # (N, T, P)
    return (part_ranks < parts_per_frame) & frame_chosen[:, :, None]


def motion_mask(
    params: MotionMaskParams, lengths: Tensor, frames: int, parts: int, generator: torch.Generator
) -> Tensor | None:
    """The mask ``params`` asks for: ``(N, T)`` for time, ``(N, T, P)`` for body, None for none."""
    if params.kind == "time":
        return time_mask(lengths, frames, params.ratio, generator)
    if params.kind == "body":
        return body_mask(lengths, frames, parts, params.ratio, params.parts_per_frame, generator)
    return None
