"""MMDM's masks: the ratio of each motion's valid frames, padding never masked, whole parts, same seed same mask."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqmask.masking.motion import body_mask, motion_mask, time_mask
from seqmask.masking.params.motion import MotionMaskParams


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, int, float, int]:
    """Lengths (N,) within T frames, a ratio and a seed."""
    frames = draw(st.integers(1, 80))
    lengths = torch.tensor(draw(st.lists(st.integers(0, frames), min_size=1, max_size=6)))
    return lengths, frames, draw(st.floats(0.0, 0.99)), draw(st.integers(0, 2**31))


@settings(max_examples=200, deadline=None)
@given(batches())
def test_time_mask_hides_round_ratio_of_valid_frames_and_no_padding(batch) -> None:
    lengths, frames, ratio, seed = batch
    mask = time_mask(lengths, frames, ratio, torch.Generator().manual_seed(seed))  # (N, T)
    assert mask.shape == (len(lengths), frames)
    for row, length in enumerate(lengths.tolist()):
        assert int(mask[row].sum()) == round(ratio * length)
        assert not mask[row, length:].any()


@settings(max_examples=200, deadline=None)
@given(batches(), st.integers(1, 5), st.integers(1, 5))
def test_body_mask_hides_whole_parts_in_round_ratio_of_frames(batch, parts, per_frame) -> None:
    lengths, frames, ratio, seed = batch
    per_frame = min(per_frame, parts)
    mask = body_mask(lengths, frames, parts, ratio, per_frame, torch.Generator().manual_seed(seed))  # (N, T, P)
    assert mask.shape == (len(lengths), frames, parts)
    frames_hit = mask.any(dim=2)  # (N, T)
    for row, length in enumerate(lengths.tolist()):
        assert int(frames_hit[row].sum()) == round(ratio * length)
        assert not mask[row, length:].any()
    # a chosen frame hides exactly parts_per_frame parts: a part is a unit, never partly masked
    assert bool((mask.sum(dim=2)[frames_hit] == per_frame).all())


def test_same_seed_same_mask_and_other_seed_other_mask() -> None:
    lengths = torch.tensor([60, 45, 60, 30])
    for kind in ("time", "body"):
        params = MotionMaskParams(kind=kind, ratio=0.4)
        first = motion_mask(params, lengths, 60, 5, torch.Generator().manual_seed(3))
        again = motion_mask(params, lengths, 60, 5, torch.Generator().manual_seed(3))
        other = motion_mask(params, lengths, 60, 5, torch.Generator().manual_seed(4))
        assert torch.equal(first, again)
        assert not torch.equal(first, other)


def test_none_gives_no_mask_and_body_mask_refuses_more_parts_than_there_are() -> None:
    assert motion_mask(MotionMaskParams(kind="none"), torch.tensor([10]), 10, 5, torch.Generator()) is None
    with pytest.raises(ValueError, match="parts_per_frame must lie in \\[1, parts = 5\\], got 6"):
        body_mask(torch.tensor([10]), 10, 5, 0.5, 6, torch.Generator())
    with pytest.raises(ValueError, match="lengths must lie in"):
        time_mask(torch.tensor([11]), 10, 0.5, torch.Generator())
