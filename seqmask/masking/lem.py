"""Linguistic entity masking (LEM, Fernando et al. 2025) and the plain MLM mask it is compared with, vectorised.

A sentence is a row of sub-tokens; each maskable sub-token belongs to a *unit*: a
word, or a whole named-entity span (the paper masks one sub-token per entity span,
the authors' code one per word: the caller forms the units either way). Each unit
has a kind: ``OTHER``, ``ENTITY``, ``NOUN`` or ``VERB``. For every row:

1. the budget is ``n = round(mask_prob * maskable sub-tokens)``;
2. the units of the enabled kinds (at most ``cap`` of a kind, drawn at random)
   come first, in random order; the other units follow in random order;
3. the first ``n`` units each contribute exactly one sub-token, drawn at random
   within the unit (never all of a long word);
4. a masked sub-token becomes ``<mask>`` (80%), a random token (10%) or stays (10%);
   the loss reads masked positions only.

Plain MLM (XLM-R) is the same draw with every sub-token its own ``OTHER`` unit:
15% of the sub-tokens, uniformly. Everything is batched tensor code: no Python loop
over tokens or units.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seqmask.masking.kinds import OTHER
from seqmask.masking.params.lem import LemParams

IGNORE = -100
"""Label of a position without loss (PyTorch's cross-entropy ``ignore_index``)."""


MLM = LemParams(entity=0, noun=0, verb=0)
"""Plain MLM's parameters: no kind comes first."""


def subtoken_units(lengths: Tensor, seq_len: int) -> tuple[Tensor, Tensor]:
    """Plain MLM's units: every sub-token its own ``OTHER`` unit. ``lengths (N,)`` -> token units and unit kinds
    ``(N, L)``."""
    return piece_units(torch.arange(seq_len).expand(lengths.numel(), seq_len) < lengths[:, None])


def piece_units(maskable: Tensor) -> tuple[Tensor, Tensor]:
    """Plain MLM's units where ``maskable (N, L)`` marks the sub-tokens that may be masked (not ``<s>``, ``</s>`` or
    padding): each its own ``OTHER`` unit, numbered in order. -> token units and unit kinds ``(N, L)``."""
    token_units = (maskable.long().cumsum(dim=1) - 1).masked_fill(~maskable, -1)  # (N, L)
    counts = maskable.sum(dim=1, keepdim=True)  # (N, 1)
    unit_kinds = torch.where(torch.arange(maskable.size(1)) < counts, OTHER, -1)  # (N, L) with U = L
    return token_units, unit_kinds


def choose_masked(
    token_units: Tensor, unit_kinds: Tensor, params: LemParams, generator: torch.Generator | None = None
) -> Tensor:
    """The sub-tokens to mask: ``token_units (N, L)`` (unit of each sub-token, -1: never masked, e.g. ``<s>`` or
    padding) and ``unit_kinds (N, U)`` (kind code per unit, -1: padding) -> ``(N, L)`` bool."""
    params.validate()
    if token_units.ndim != 2 or unit_kinds.ndim != 2 or token_units.size(0) != unit_kinds.size(0):
        raise ValueError(
            f"expected token_units (N, L) and unit_kinds (N, U), found {tuple(token_units.shape)} and "
            f"{tuple(unit_kinds.shape)}"
        )
    num_rows, seq_len = token_units.shape
    num_units = unit_kinds.size(1)
    if bool((token_units >= num_units).any()):
        raise ValueError(f"token_units name a unit >= U = {num_units}")
    maskable = token_units >= 0  # (N, L)
    budget = torch.round(params.mask_prob * maskable.sum(dim=1).double()).long()  # (N,)
    units = token_units.clamp(min=0)  # (N, L)

    # each unit's representative: its sub-token with the highest of a row's distinct random ranks
    token_rank = _random_ranks(num_rows, seq_len, generator).masked_fill(~maskable, -1)  # (N, L)
    best_rank = torch.full((num_rows, num_units), -1, dtype=torch.long).scatter_reduce(
        1, units, token_rank, reduce="amax"
    )  # (N, U)
    representative = maskable & (token_rank == best_rank.gather(1, units))  # (N, L)

    # units in priority order: the enabled kinds within their caps, then every other unit, each group shuffled
    usable = (unit_kinds >= 0) & (best_rank >= 0)  # (N, U): a real unit with a sub-token left
    kinds = unit_kinds.clamp(min=0)  # (N, U)
    shuffle = _random_ranks(num_rows, num_units, generator)  # (N, U) distinct in a row
    first = usable & (_rank_within_kind(kinds, shuffle) < _caps(params, num_units)[kinds])  # (N, U)
    priority = (first.long() * num_units + shuffle).masked_fill(~usable, -1)  # (N, U): first ones above all others
    order = _ranks(priority.neg())  # (N, U): 0 = the highest priority
    chosen = usable & (order < budget[:, None])  # (N, U)
    return representative & chosen.gather(1, units)  # (N, L)


def replace_masked(
    tokens: Tensor,
    masked: Tensor,
    params: LemParams,
    *,
    mask_id: int,
    random_ids: tuple[int, int],
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Model inputs and labels: ``tokens (N, L)`` with masked positions replaced (``<mask>``, a random id in
    ``[random_ids[0], random_ids[1])`` other than ``mask_id``, or unchanged); labels are the original ids at masked
    positions and ``IGNORE`` elsewhere. -> ``(N, L)``, ``(N, L)``."""
    low, high = random_ids
    if not 0 <= low < high or (low <= mask_id < high and high - low < 2):
        raise ValueError(f"random_ids: expected a range of at least one id besides <mask>, found [{low}, {high})")
    draw = torch.rand(tokens.shape, generator=generator)  # (N, L)
    to_mask = masked & (draw < params.replace_mask)  # (N, L)
    to_random = masked & (draw >= params.replace_mask) & (draw < params.replace_mask + params.replace_random)  # (N, L)
    spread = high - low - (1 if low <= mask_id < high else 0)
    random_tokens = low + torch.randint(0, spread, tokens.shape, generator=generator)  # (N, L)
    random_tokens += ((random_tokens >= mask_id) & (low <= mask_id < high)).long()  # skip <mask>
    inputs = torch.where(to_mask, mask_id, torch.where(to_random, random_tokens, tokens))  # (N, L)
    labels = tokens.masked_fill(~masked, IGNORE)  # (N, L)
    return inputs, labels


def _caps(params: LemParams, num_units: int) -> Tensor:
    """Priority units allowed per kind code ``(4,)``: 0 for ``OTHER`` and for a kind switched off."""
    return torch.tensor([0, *(num_units if cap is None else cap for cap in (params.entity, params.noun, params.verb))])


def _random_ranks(rows: int, size: int, generator: torch.Generator | None) -> Tensor:
    """A random permutation of ``0 .. size-1`` per row ``(rows, size)``: distinct keys, so no ties."""
    return _ranks(torch.rand(rows, size, generator=generator))


def _ranks(values: Tensor) -> Tensor:
    """Each element's position in its row sorted ascending ``(N, S)`` (ties by index)."""
    order = torch.argsort(values, dim=1, stable=True)  # (N, S)
    return torch.empty_like(order).scatter_(1, order, torch.arange(values.size(1)).expand_as(order))


def _rank_within_kind(kinds: Tensor, shuffle: Tensor) -> Tensor:
    """Each unit's rank among the units of its kind in its row, in ``shuffle`` order: ``(N, U)``, ``(N, U)`` ->
    ``(N, U)``."""
    width = shuffle.size(1)
    order = torch.argsort(kinds * width + shuffle, dim=1)  # (N, U): by kind, then shuffled
    sorted_kinds = kinds.gather(1, order).contiguous()  # (N, U) ascending per row
    start_of_kind = torch.searchsorted(sorted_kinds, sorted_kinds)  # (N, U): where each unit's kind begins
    rank_sorted = torch.arange(width).expand_as(order) - start_of_kind  # (N, U)
    return torch.empty_like(order).scatter_(1, order, rank_sorted)
