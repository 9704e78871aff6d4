"""Word tags onto sentencepiece pieces: the masking units (one per word, or one per named-entity span) of a sentence.

A tagger gives words as character spans with a kind (``seqmask.masking.lem``:
``OTHER``, ``ENTITY``, ``NOUN``, ``VERB``) and, for entity words, the entity span
they belong to. The vocabulary gives pieces with byte offsets into the same text.
Each piece goes to the word it overlaps (a piece that starts in the space before a
word, ``▁word``, goes to that word); a piece of whitespace alone goes to no unit and
is never masked. With ``per="span"`` (the paper) the words of one entity span form
one unit; with ``per="word"`` (the authors' code) every word is its own unit.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.masking.kinds import ENTITY
from seqmask.text.config import UNIT_MODES

if TYPE_CHECKING:
    from seqmask.text.tokenizer import Vocabulary


@dataclass(frozen=True)
class Word:
    """A tagged word: characters ``[start, end)`` of the sentence, its kind, and its entity span (None outside one)."""

    start: int
    end: int
    kind: int
    entity: int | None = None


@dataclass(frozen=True)
class Encoded:
    """A sentence as piece ids, the unit of each piece (-1: none) and the kind of each unit."""

    ids: tuple[int, ...]
    token_units: tuple[int, ...]
    unit_kinds: tuple[int, ...]


def encode_units(text: str, words: Sequence[Word], vocabulary: Vocabulary, *, per: str = "span") -> Encoded:
    """Pieces of ``text`` with their masking units."""
    if per not in UNIT_MODES:
        raise ValueError(f"per: expected one of {UNIT_MODES}, found {per!r}")
    ordered = sorted(words, key=lambda word: word.start)
    starts = [word.start for word in ordered]
    char_of_byte = _char_offsets(text)
    unit_of_word, unit_kinds = _units(ordered, per)
    ids, token_units = [], []
    for piece in vocabulary.pieces(text):
        begin, end = char_of_byte[piece.begin], char_of_byte[piece.end]
        word = _overlapping(ordered, starts, begin, end, text)
        ids.append(piece.id)
        token_units.append(-1 if word is None else unit_of_word[word])
    return Encoded(tuple(ids), tuple(token_units), tuple(unit_kinds))


def _char_offsets(text: str) -> list[int]:
    """Character offset of every byte offset of ``text``'s UTF-8 encoding, one past the end included."""
    offsets = []
    for index, ch in enumerate(text):
        offsets += [index] * len(ch.encode("utf-8"))
    return offsets + [len(text)]


def _units(words: Sequence[Word], per: str) -> tuple[list[int], list[int]]:
    """The unit of each word (by position) and the kind of each unit, units numbered in sentence order."""
    unit_of_word, unit_kinds = [], []
    unit_of_entity: dict[int, int] = {}
    for word in words:
        if per == "span" and word.entity is not None and word.kind == ENTITY:
            if word.entity not in unit_of_entity:
                unit_of_entity[word.entity] = len(unit_kinds)
                unit_kinds.append(ENTITY)
            unit_of_word.append(unit_of_entity[word.entity])
            continue
        unit_of_word.append(len(unit_kinds))
        unit_kinds.append(word.kind)
    return unit_of_word, unit_kinds


def _overlapping(words: Sequence[Word], starts: Sequence[int], begin: int, end: int, text: str) -> int | None:
    """The position of the word that characters ``[begin, end)`` belong to, if any."""
    if not text[begin:end].strip():
        return None  # whitespace alone (or the empty dummy prefix)
    here = bisect.bisect_right(starts, begin) - 1
    if here >= 0 and words[here].end > begin:
        return here
    following = here + 1
    if following < len(words) and words[following].start < end:
        return following  # "▁word": the piece starts in the space before the word
    return None
