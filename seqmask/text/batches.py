"""Batches for the masked language model: MLM rows of one sentence, TLM rows of a translation pair.

Rows follow XLM-R's layout: ``<s> A </s>`` and, for a pair, ``<s> A </s> </s> B </s>``.
For TLM, as in XLM, the second sentence's positions restart (so the model cannot
align by position) and each part carries its language id (``token_type_ids``; the
encoder needs ``type_vocab_size`` >= the number of languages). Each row keeps its
masking units (``seqmask.text.units``): special tokens belong to none, and the
second sentence's units follow the first's. A sentence longer than ``max_len``
allows is cut and counted, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from seqmask.text.tokenizer import Specials
from seqmask.text.units import Encoded

Row = tuple[tuple[Encoded, ...], tuple[int, ...]]
"""One training row: one sentence (MLM) or two (TLM), with their language ids."""


@dataclass
class TextBatch:
    """A padded batch: ``(N, L)`` tensors, and how many sentences were cut to fit."""

    input_ids: Tensor  # (N, L)
    attention_mask: Tensor  # (N, L) 1 on real tokens
    position_ids: Tensor  # (N, L)
    token_type_ids: Tensor  # (N, L) language id per token
    token_units: Tensor  # (N, L) masking unit per token, -1: none
    unit_kinds: Tensor  # (N, U) kind per unit, -1: padding
    truncated: int


def mlm_batch(sentences: Sequence[Encoded], languages: Sequence[int], specials: Specials, max_len: int) -> TextBatch:
    """One row per sentence: ``<s> pieces </s>``."""
    return _batch(
        [[(sentence, language)] for sentence, language in zip(sentences, languages, strict=True)], specials, max_len
    )


def tlm_batch(
    pairs: Sequence[tuple[Encoded, Encoded]], languages: Sequence[tuple[int, int]], specials: Specials, max_len: int
) -> TextBatch:
    """One row per translation pair: ``<s> A </s> </s> B </s>``, B's positions restarting; each half gets at most half
    of ``max_len``."""
    return _batch(
        [
            [(first, first_language), (second, second_language)]
            for (first, second), (first_language, second_language) in zip(pairs, languages, strict=True)
        ],
        specials,
        max_len,
    )


def _batch(rows: Sequence[Sequence[tuple[Encoded, int]]], specials: Specials, max_len: int) -> TextBatch:
    built = []
    truncated = 0
    for parts in rows:
        budget = max_len // len(parts) - 2  # pieces per part: each part opens and closes with a special token
        ids, positions, types, units, kinds = [], [], [], [], []
        for index, (sentence, language) in enumerate(parts):
            pieces = sentence.ids[:budget]
            truncated += len(pieces) < len(sentence.ids)
            offset = len(kinds)
            opener = specials.bos if index == 0 else specials.eos
            part_ids = [opener, *pieces, specials.eos]
            ids += part_ids
            positions += range(specials.first_position, specials.first_position + len(part_ids))  # restarts per part
            types += [language] * len(part_ids)
            units += [-1, *(u + offset if u >= 0 else -1 for u in sentence.token_units[: len(pieces)]), -1]
            kinds += sentence.unit_kinds
        built.append((ids, positions, types, units, kinds))
    length = max(len(row[0]) for row in built)
    width = max(1, max(len(row[4]) for row in built))

    def padded(index: int, size: int, fill: int) -> Tensor:
        return torch.tensor([row[index] + [fill] * (size - len(row[index])) for row in built])  # (N, size)

    input_ids = padded(0, length, specials.pad)  # (N, L)
    return TextBatch(
        input_ids=input_ids,
        attention_mask=(torch.arange(length)[None, :] < torch.tensor([len(row[0]) for row in built])[:, None]).long(),
        position_ids=padded(1, length, specials.pad),
        token_type_ids=padded(2, length, 0),
        token_units=padded(3, length, -1),
        unit_kinds=padded(4, width, -1),
        truncated=truncated,
    )
