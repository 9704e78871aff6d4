"""Baseline random span masking: fairseq2's compute_row_mask behind a seedable, never-raising API."""

from __future__ import annotations

import pytest
import torch
from fairseq2.nn.utils.mask import _compute_mask_spans
from hypothesis import given, settings
from hypothesis import strategies as st

from seqmask.masking.spans import batch_num_spans, num_masked_spans, random_span_mask

SPAN_ARGS = {"span_len": 10, "max_mask_prob": 0.65, "min_num_spans": 2}


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, int, int]:
    """(lengths (N,), seq_len, seed); some batches hold rows too short to mask."""
    seq_len = draw(st.integers(1, 400))
    shortest = min(draw(st.sampled_from([1, 32, 100])), seq_len)
    lengths = draw(st.lists(st.integers(shortest, seq_len), min_size=1, max_size=6))
    return torch.tensor(lengths), seq_len, draw(st.integers(0, 2**31))


def test_same_seed_same_mask_and_global_rng_untouched() -> None:
    lengths = torch.tensor([300, 250, 120])
    state = torch.get_rng_state()
    first = random_span_mask(lengths, 300, generator=torch.Generator().manual_seed(7))
    second = random_span_mask(lengths, 300, generator=torch.Generator().manual_seed(7))
    other = random_span_mask(lengths, 300, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), state)


def test_generator_advances() -> None:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([300])
    assert not torch.equal(
        random_span_mask(lengths, 300, generator=generator), random_span_mask(lengths, 300, generator=generator)
    )


@settings(max_examples=60, deadline=None)
@given(batches())
def test_mask_properties(batch: tuple[torch.Tensor, int, int]) -> None:
    lengths, seq_len, seed = batch
    mask = random_span_mask(lengths, seq_len, **SPAN_ARGS, generator=torch.Generator().manual_seed(seed))
    counts = mask.sum(dim=1)

    assert mask.shape == (len(lengths), seq_len) and mask.dtype == torch.bool
    assert not (mask & (torch.arange(seq_len) >= lengths[:, None])).any(), "masked at or beyond a row's length"
    assert (counts == counts[0]).all(), f"rows mask different counts: {counts.tolist()}"
    if batch_num_spans(lengths, **SPAN_ARGS) == 0:
        assert not mask.any()
        return
    assert (counts <= SPAN_ARGS["max_mask_prob"] * lengths).all()
    assert counts[0] >= SPAN_ARGS["span_len"]
    if lengths.min() >= 200:
        assert counts[0] >= 0.2 * lengths.min()


@settings(max_examples=200, deadline=None)
@given(
    length=st.integers(1, 2000),
    span_len=st.integers(1, 20),
    max_mask_prob=st.floats(0.01, 1.0),
    min_num_spans=st.integers(0, 4),
)
def test_count_rule_is_fairseq2s(length: int, span_len: int, max_mask_prob: float, min_num_spans: int) -> None:
    count = num_masked_spans(length, span_len=span_len, max_mask_prob=max_mask_prob, min_num_spans=min_num_spans)
    if length <= span_len:  # compute_row_mask refuses the row before counting
        assert count == 0
        return
    try:
        indices = _compute_mask_spans(torch.tensor([length]), span_len, max_mask_prob, min_num_spans)
    except ValueError:  # fewer than min_num_spans fit
        assert count == 0
        return
    assert count == (0 if indices is None else indices.size(1) // span_len)


def test_known_counts() -> None:
    assert num_masked_spans(500, **SPAN_ARGS) == 32  # int(0.065 * 499)
    assert num_masked_spans(32, **SPAN_ARGS) == 2
    assert num_masked_spans(31, **SPAN_ARGS) == 0  # 1 span < min_num_spans: fairseq2 raises
    assert batch_num_spans(torch.tensor([500, 100]), **SPAN_ARGS) == 6  # the shortest row decides


@pytest.mark.parametrize("lengths", [[300, 5], [10], [31, 300], []])
def test_unmaskable_batch_gives_empty_mask(lengths: list[int]) -> None:
    mask = random_span_mask(torch.tensor(lengths, dtype=torch.int64), 300)
    assert mask.shape == (len(lengths), 300) and not mask.any()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"span_len": 0}, "span_len"),
        ({"max_mask_prob": 0.0}, "max_mask_prob"),
        ({"min_num_spans": -1}, "min_num_spans"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        random_span_mask(torch.tensor([100]), 100, **kwargs)  # type: ignore[arg-type]


def test_bad_lengths_are_reported() -> None:
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 100\], got min 50 and max 101"):
        random_span_mask(torch.tensor([50, 101]), 100)
    with pytest.raises(ValueError, match="integer tensor of shape"):
        random_span_mask(torch.tensor([50.0]), 100)
