"""Word tags onto sentencepiece pieces: every piece of a word in its unit, entity spans one unit, spaces in none."""

from __future__ import annotations

import pytest

from seqmask.masking.kinds import ENTITY, NOUN, OTHER, VERB
from seqmask.text.artifacts import TOKENIZER_MODEL
from seqmask.text.tokenizer import Vocabulary, train_sentencepiece
from seqmask.text.units import Word, encode_units

SENTENCES = ["Kamal Perera lives in Sri Lanka", "කමල් පෙරේරා ශ්‍රී ලංකාවේ ජීවත් වෙයි", "the children read books in Colombo"]


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / TOKENIZER_MODEL
    train_sentencepiece(SENTENCES * 30, path, vocab_size=60)
    return Vocabulary.load(path)


def words_of(text, kinds, entities):
    found, start = [], 0
    for token, kind, entity in zip(text.split(" "), kinds, entities):
        found.append(Word(start, start + len(token), kind, entity))
        start += len(token) + 1
    return found


def test_entity_spans_are_one_unit_per_span_or_one_per_word(processor) -> None:
    text = SENTENCES[0]
    words = words_of(text, [ENTITY, ENTITY, VERB, OTHER, ENTITY, ENTITY], [0, 0, None, None, 1, 1])
    span = encode_units(text, words, processor, per="span")
    assert span.unit_kinds == (ENTITY, VERB, OTHER, ENTITY)
    word = encode_units(text, words, processor, per="word")
    assert word.unit_kinds == (ENTITY, ENTITY, VERB, OTHER, ENTITY, ENTITY)
    assert span.ids == word.ids == tuple(processor.processor.encode(text))  # ids as sentencepiece's own (offset 0)


def test_every_piece_of_a_word_goes_to_its_unit(processor) -> None:
    for text in SENTENCES:
        words = words_of(text, [NOUN] * len(text.split(" ")), [None] * len(text.split(" ")))
        encoded = encode_units(text, words, processor, per="word")
        pieces = [processor.token(i) for i in encoded.ids]
        # decoding the pieces of each unit gives back that word
        for unit, token in enumerate(text.split(" ")):
            surface = "".join(p for p, u in zip(pieces, encoded.token_units) if u == unit).replace("\u2581", "")
            assert surface == token, (text, unit)
        assert all(u >= 0 or p == "\u2581" for p, u in zip(pieces, encoded.token_units))


def test_unknown_unit_mode_is_refused(processor) -> None:
    with pytest.raises(ValueError, match="per: expected one of"):
        encode_units("a b", [], processor, per="sentence")
