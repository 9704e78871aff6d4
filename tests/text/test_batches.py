"""MLM and TLM rows: XLM-R layout, positions restarting for the second sentence, language ids, units, truncation."""

from __future__ import annotations

import torch

from seqmask.masking.kinds import ENTITY, NOUN, OTHER
from seqmask.masking.lem import LemParams, choose_masked
from seqmask.text.batches import mlm_batch, tlm_batch
from seqmask.text.tokenizer import Specials
from seqmask.text.units import Encoded

SPECIALS = Specials()
ENGLISH = Encoded(ids=(10, 11, 12), token_units=(-1, 0, 1), unit_kinds=(ENTITY, NOUN))  # "▁" then two words
SINHALA = Encoded(ids=(20, 21, 22, 23), token_units=(0, 0, 1, 2), unit_kinds=(ENTITY, OTHER, NOUN))


def test_mlm_rows_are_padded_with_units_shifted_past_the_specials() -> None:
    batch = mlm_batch([ENGLISH, SINHALA], [0, 1], SPECIALS, max_len=16)
    assert batch.input_ids.tolist() == [[0, 10, 11, 12, 2, 1], [0, 20, 21, 22, 23, 2]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]
    assert batch.token_units.tolist() == [[-1, -1, 0, 1, -1, -1], [-1, 0, 0, 1, 2, -1]]
    assert batch.unit_kinds.tolist() == [[ENTITY, NOUN, -1], [ENTITY, OTHER, NOUN]]
    assert batch.token_type_ids.tolist() == [[0] * 6, [1] * 6] and batch.truncated == 0


def test_tlm_rows_restart_positions_and_carry_both_languages() -> None:
    batch = tlm_batch([(ENGLISH, SINHALA)], [(0, 1)], SPECIALS, max_len=32)
    assert batch.input_ids.tolist() == [[0, 10, 11, 12, 2, 2, 20, 21, 22, 23, 2]]
    assert batch.position_ids.tolist() == [[2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 7]]
    assert batch.token_type_ids.tolist() == [[0] * 5 + [1] * 6]
    assert batch.token_units.tolist() == [[-1, -1, 0, 1, -1, -1, 2, 2, 3, 4, -1]]  # Sinhala units follow English ones
    assert batch.unit_kinds.tolist() == [[ENTITY, NOUN, ENTITY, OTHER, NOUN]]
    masked = choose_masked(
        batch.token_units, batch.unit_kinds, LemParams(mask_prob=0.5), torch.Generator().manual_seed(0)
    )
    assert int(masked.sum()) == 3 and not bool(masked[batch.token_units < 0].any())  # round(0.5 * 6 maskable pieces)
    assert OTHER not in batch.unit_kinds[0][batch.token_units[masked]].tolist()  # 4 priority units cover the budget


def test_long_sentences_are_cut_to_fit_and_counted() -> None:
    batch = tlm_batch([(ENGLISH, SINHALA)], [(0, 1)], SPECIALS, max_len=8)  # 2 pieces per part
    assert batch.input_ids.tolist() == [[0, 10, 11, 2, 2, 20, 21, 2]] and batch.truncated == 2
    assert batch.token_units.tolist() == [[-1, -1, 0, -1, -1, 2, 2, -1]]
