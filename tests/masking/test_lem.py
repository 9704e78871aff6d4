"""LEM and plain MLM masks: budget, one sub-token per unit, entities first, caps, 80/10/10, seeds."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqmask.masking.kinds import ENTITY, NOUN, OTHER, VERB
from seqmask.masking.lem import IGNORE, MLM, LemParams, choose_masked, replace_masked, subtoken_units


@st.composite
def sentences(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, int]:
    """A padded batch: token units (N, L) with <s> and </s> unmaskable (-1), unit kinds (N, U), and a seed."""
    rows = draw(
        st.lists(
            st.lists(
                st.tuples(st.integers(1, 4), st.sampled_from([OTHER, ENTITY, NOUN, VERB])), min_size=1, max_size=30
            ),
            min_size=1,
            max_size=5,
        )
    )  # per row: (sub-tokens, kind) per unit
    seq_len = max(sum(n for n, _ in row) for row in rows) + 2
    num_units = max(len(row) for row in rows)
    token_units = torch.full((len(rows), seq_len + 1), -1)  # one padding column
    unit_kinds = torch.full((len(rows), num_units), -1)
    for i, row in enumerate(rows):
        position = 1  # 0 is <s>
        for unit, (pieces, kind) in enumerate(row):
            token_units[i, position : position + pieces] = unit
            unit_kinds[i, unit] = kind
            position += pieces
    return token_units, unit_kinds, draw(st.integers(0, 2**31))


def draw_mask(token_units, unit_kinds, params, seed):
    return choose_masked(token_units, unit_kinds, params, torch.Generator().manual_seed(seed))


@settings(max_examples=200, deadline=None)
@given(sentences())
def test_the_budget_is_met_with_one_sub_token_per_unit(batch) -> None:
    token_units, unit_kinds, seed = batch
    masked = draw_mask(token_units, unit_kinds, LemParams(), seed)
    for row in range(token_units.size(0)):
        maskable = int((token_units[row] >= 0).sum())
        units = token_units[row][masked[row]]
        assert not bool(masked[row][token_units[row] < 0].any())  # never <s>, </s> or padding
        assert len(set(units.tolist())) == len(units)  # one sub-token per unit
        assert len(units) == min(round(0.15 * maskable), int((unit_kinds[row] >= 0).sum()))


@settings(max_examples=200, deadline=None)
@given(sentences())
def test_entities_nouns_and_verbs_come_before_other_words(batch) -> None:
    token_units, unit_kinds, seed = batch
    masked = draw_mask(token_units, unit_kinds, LemParams(), seed)
    for row in range(token_units.size(0)):
        kinds = unit_kinds[row][token_units[row][masked[row]]]
        candidates = int(((unit_kinds[row] == ENTITY) | (unit_kinds[row] == NOUN) | (unit_kinds[row] == VERB)).sum())
        assert int((kinds != OTHER).sum()) == min(candidates, len(kinds))


@settings(max_examples=100, deadline=None)
@given(sentences())
def test_a_cap_limits_a_kind_and_zero_switches_it_off(batch) -> None:
    token_units, unit_kinds, seed = batch
    capped = draw_mask(token_units, unit_kinds, LemParams(entity=1, verb=0), seed)
    for row in range(token_units.size(0)):
        kinds = unit_kinds[row][token_units[row][capped[row]]]
        nouns = int((unit_kinds[row] == NOUN).sum())
        entity_first = min(int((unit_kinds[row] == ENTITY).sum()), 1)
        masked_nouns, masked_entities = int((kinds == NOUN).sum()), int((kinds == ENTITY).sum())
        assert masked_nouns + min(masked_entities, 1) == min(len(kinds), nouns + entity_first)  # priority units first
        if len(kinds) <= nouns + entity_first:  # the budget is spent on priority units: no verb, at most one entity
            assert int((kinds == VERB).sum()) == 0 and masked_entities <= 1


def test_plain_mlm_masks_fifteen_percent_of_sub_tokens_uniformly() -> None:
    lengths = torch.tensor([100, 40, 7])
    token_units, unit_kinds = subtoken_units(lengths, 100)
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(100)
    for _ in range(400):
        masked = choose_masked(token_units, unit_kinds, MLM, generator)
        assert masked.sum(dim=1).tolist() == [15, 6, 1]
        counts += masked[0].float()
    assert counts.min() > 0.15 * 400 * 0.5 and counts.max() < 0.15 * 400 * 1.6  # every position is drawn, none favoured


def test_a_long_word_gives_one_random_sub_token_each_time() -> None:
    token_units = torch.tensor([[-1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, -1]])  # a 6-piece entity and 6 one-piece words
    unit_kinds = torch.tensor([[ENTITY, OTHER, OTHER, OTHER, OTHER, OTHER, OTHER]])
    generator = torch.Generator().manual_seed(0)
    chosen = []
    for _ in range(300):
        masked = choose_masked(token_units, unit_kinds, LemParams(), generator)[0]
        assert int(masked[1:7].sum()) == 1 and int(masked.sum()) == 2  # round(0.15 * 12) = 2: the entity, and one other
        chosen.append(int(masked.nonzero()[0]))
    assert set(chosen) == set(range(1, 7))


def test_same_seed_same_mask_other_seed_other_mask() -> None:
    token_units, unit_kinds = subtoken_units(torch.tensor([200, 150]), 200)
    first, second, other = (draw_mask(token_units, unit_kinds, MLM, seed) for seed in (3, 3, 4))
    assert torch.equal(first, second) and not torch.equal(first, other)


def test_replacement_is_80_10_10_and_labels_only_masked_positions() -> None:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(5, 1000, (64, 256), generator=generator)
    masked = torch.rand(64, 256, generator=generator) < 0.5
    inputs, labels = replace_masked(tokens, masked, LemParams(), mask_id=999, random_ids=(5, 1000), generator=generator)
    total = int(masked.sum())
    as_mask = int((masked & (inputs == 999)).sum()) / total
    changed = int((masked & (inputs != 999) & (inputs != tokens)).sum()) / total
    assert abs(as_mask - 0.8) < 0.01 and abs(changed - 0.1) < 0.01  # ~8,000 masked positions: tolerance ~3 std
    assert torch.equal(inputs[~masked], tokens[~masked])
    assert torch.equal(labels[masked], tokens[masked]) and bool((labels[~masked] == IGNORE).all())
    random_ids = inputs[masked & (inputs != 999) & (inputs != tokens)]
    assert bool(((random_ids >= 5) & (random_ids < 999)).all())  # never <mask>, never a special id below 5


@pytest.mark.parametrize(
    "params, message",
    [
        (LemParams(mask_prob=0.0), "mask_prob"),
        (LemParams(noun=-1), "noun"),
        (LemParams(replace_mask=0.95), "replace_mask"),
    ],
)
def test_bad_parameters_are_named(params, message) -> None:
    token_units, unit_kinds = subtoken_units(torch.tensor([10]), 10)
    with pytest.raises(ValueError, match=message):
        choose_masked(token_units, unit_kinds, params)


def test_units_beyond_the_kinds_table_are_refused() -> None:
    with pytest.raises(ValueError, match="unit >= U = 1"):
        choose_masked(torch.tensor([[0, 1]]), torch.tensor([[OTHER]]), MLM)
