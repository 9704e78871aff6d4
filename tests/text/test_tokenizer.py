"""Sentencepiece vocabularies in XLM-R's id layout, and the loud warning for a script the model does not cover."""

from __future__ import annotations

import io
import logging

import pytest
import sentencepiece as spm

from seqmask.text.tokenizer import (
    XLMR_MODEL_FILE,
    Vocabulary,
    train_sentencepiece,
    unknown_rates,
)

ENGLISH = ["open the file", "save the document", "close the window", "print the page", "the file is open"] * 40


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / "spm.model"
    train_sentencepiece(ENGLISH, path, vocab_size=40)
    return Vocabulary.load(path)


def test_a_trained_model_has_xlmr_ids(english) -> None:
    specials = english.specials
    assert (specials.bos, specials.pad, specials.eos, english.unk) == (0, 1, 2, 3)
    assert english.mask == english.size - 1 == english.processor.get_piece_size()
    assert all(4 <= i < english.mask for i in english.ids("open the page"))


def test_an_uncovered_script_is_measured_and_warned_about(english, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        rates = unknown_rates(english, {"eng": ["open the file"], "tam": ["கோப்பைத் திற"]}, warn_above=0.01)
    assert rates["eng"] == 0 and rates["tam"] > 0.3
    assert "tam" in caplog.text and "does not cover its script" in caplog.text and "eng text" not in caplog.text


def test_an_xlmr_sentencepiece_model_gets_fairseqs_offset(tmp_path) -> None:
    model = io.BytesIO()  # XLM-R's own layout: <unk> 0, <s> 1, </s> 2, pieces from 3, no <pad>
    spm.SentencePieceTrainer.train(sentence_iterator=iter(ENGLISH), model_writer=model, vocab_size=40, model_type="unigram",
                                   hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    (tmp_path / XLMR_MODEL_FILE).write_bytes(model.getvalue())
    vocab = Vocabulary.load(tmp_path / XLMR_MODEL_FILE)
    raw = vocab.processor.encode("open the file")
    assert vocab.ids("open the file") == [i + 1 for i in raw]
    assert vocab.ids("ф")[-1] == vocab.unk == 3  # an unknown piece maps to XLM-R's <unk>, not to <s>+1
    assert vocab.size == vocab.processor.get_piece_size() + 2 and vocab.mask == vocab.size - 1
    assert vocab.token(vocab.ids("open")[-1]) == vocab.processor.id_to_piece(raw[-1] if (raw := vocab.processor.encode("open")) else 0)


def test_a_model_without_special_pieces_is_refused(tmp_path) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(ENGLISH), model_writer=model, vocab_size=40, hard_vocab_limit=False,
                                   bos_id=-1, eos_id=-1, minloglevel=2)
    (tmp_path / "user.model").write_bytes(model.getvalue())
    with pytest.raises(ValueError, match=r"expected <s>, <pad>, </s> and <unk> pieces, found none for \['bos', 'pad', 'eos'\]"):
        Vocabulary.load(tmp_path / "user.model")
