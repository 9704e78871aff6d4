"""Baseline random span masking: fairseq2's ``compute_row_mask`` and its span-count rule.

fairseq2 (``fairseq2.nn.utils.mask._compute_mask_spans``) draws the same number
of spans for every row of a batch::

    num_spans = int(min_over_rows(max_mask_prob / span_len * (row_len - 1)))

(float arithmetic, truncated toward zero; the ``- 1`` keeps one element
unmasked). It samples the span starts uniformly *with replacement*, so spans
overlap, and then trims every row down to the smallest masked count in the batch
by unmasking randomly chosen masked elements.

fairseq2 refuses batches it cannot mask: ``compute_row_mask`` raises
``ValueError`` if any row is not longer than ``span_len`` or if fewer than
``min_num_spans`` spans fit, and returns an empty ``(0, 0)`` tensor when zero
spans fit. Here such a batch is "unmaskable" and gets an all-False ``(N, S)``
mask instead of an error: because every row must mask the same number of
elements, a single unmaskable row makes the whole batch unmaskable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from fairseq2.nn.utils.mask import compute_row_mask
from torch import Tensor

from seqmask.masking.params.spans import check_span_args


def check_lengths(lengths: Tensor, seq_len: int) -> None:
    """Raise ``ValueError`` unless ``lengths`` is an integer ``(N,)`` tensor with values in [0, seq_len]."""
    if lengths.ndim != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(
            f"lengths must be an integer tensor of shape (N,), got {lengths.dtype} of shape {tuple(lengths.shape)}"
        )
    if lengths.numel() and not bool(((lengths >= 0) & (lengths <= seq_len)).all()):
        raise ValueError(
            f"lengths must lie in [0, {seq_len}], got min {int(lengths.min())} and max {int(lengths.max())}"
        )


def spans_per_row(lengths: Tensor, *, span_len: int, max_mask_prob: float, min_num_spans: int) -> Tensor:
    """fairseq2's span count for each row on its own; 0 where fairseq2 would refuse the row.

    ``(N,) -> (N,)`` int64.
    """
    lengths = lengths.to(torch.int64)  # (N,) -> (N,)
    # Same expression and dtype as fairseq2.nn.utils.mask._compute_mask_spans.
    counts = (max_mask_prob / span_len * (lengths - 1)).to(torch.int64)  # (N,) -> (N,)
    refused = (lengths <= span_len) | (counts < min_num_spans)  # (N,) -> (N,)
    return counts.masked_fill(refused, 0)  # (N,) -> (N,)


def num_masked_spans(length: int, *, span_len: int, max_mask_prob: float, min_num_spans: int) -> int:
    """Number of spans fairseq2 draws for a row of ``length`` elements (0 if it would refuse the row)."""
    check_span_args(span_len, max_mask_prob, min_num_spans)
    lengths = torch.tensor([length])  # (1,)
    return int(spans_per_row(lengths, span_len=span_len, max_mask_prob=max_mask_prob, min_num_spans=min_num_spans)[0])


def batch_num_spans(lengths: Tensor, *, span_len: int, max_mask_prob: float, min_num_spans: int) -> int:
    """Number of spans fairseq2 draws for every row of the batch: the row minimum (0 = unmaskable)."""
    if lengths.numel() == 0:
        return 0
    counts = spans_per_row(lengths, span_len=span_len, max_mask_prob=max_mask_prob, min_num_spans=min_num_spans)  # (N,)
    return int(counts.min())


@contextmanager
def seeded_global_rng(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Run the body on a global RNG seeded from ``generator``, restoring the global state afterwards.

    fairseq2's ``compute_row_mask`` takes no generator and draws from the global
    RNG of ``device``. A seed is drawn from ``generator`` (which advances it, so
    successive calls differ), the global CPU RNG and the one of ``device`` are
    forked and seeded with it. With ``generator=None`` the global RNG is used
    as is, as fairseq2 does.
    """
    if generator is None:
        yield
        return
    seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
    forked = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(devices=forked, device_type=device.type):
        torch.manual_seed(seed)
        yield


def random_span_mask(
    lengths: Tensor,
    seq_len: int,
    *,
    span_len: int = 10,
    max_mask_prob: float = 0.65,
    min_num_spans: int = 2,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The baseline: fairseq2's random span mask, ``(N,) -> (N, S)`` bool with ``S = seq_len``.

    Every row masks the same number of elements, none at or beyond its length.
    The same ``generator`` state gives the same mask (see
    :func:`seeded_global_rng`). An unmaskable batch (see the module docstring)
    gives an all-False mask.
    """
    check_span_args(span_len, max_mask_prob, min_num_spans)
    check_lengths(lengths, seq_len)
    num_spans = batch_num_spans(lengths, span_len=span_len, max_mask_prob=max_mask_prob, min_num_spans=min_num_spans)
    if num_spans == 0:
        return torch.zeros((lengths.numel(), seq_len), dtype=torch.bool, device=lengths.device)  # (N, S)

    with seeded_global_rng(generator, lengths.device):
        mask = compute_row_mask(
            shape=(lengths.numel(), seq_len),
            span_len=span_len,
            max_mask_prob=max_mask_prob,
            row_lens=lengths,
            min_num_spans=min_num_spans,
            device=lengths.device,
        )  # (N,) -> (N, S)
    if mask is None:  # compute_row_mask is typed Optional but always returns a tensor
        raise RuntimeError("fairseq2's compute_row_mask returned None, expected an (N, S) mask")
    return mask


def lenient_row_mask(
    shape: tuple[int, int],
    span_len: int,
    max_mask_prob: float,
    row_lens: Tensor | None = None,
    min_num_spans: int = 0,
    device: torch.device | None = None,
) -> Tensor:
    """fairseq2's row mask factory, but a batch too short to mask gets an all-False mask instead of an error.

    ``(N, S)`` bool, drawn by :func:`random_span_mask`. Used as the CTC model's mask factory (``seqmask.speech.model``):
    spoken digits are shorter than a span.
    """
    lengths = row_lens if row_lens is not None else torch.full((shape[0],), shape[1], device=device)  # (N,)
    return random_span_mask(
        lengths, shape[1], span_len=span_len, max_mask_prob=max_mask_prob, min_num_spans=min_num_spans
    )
