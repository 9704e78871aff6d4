"""Sentencepiece vocabularies in XLM-R's id layout, and the loud warning for a script the model does not cover."""

from __future__ import annotations

import io
import logging
import re

import pytest
import sentencepiece as spm

from seqmask.executor import Executor
from seqmask.stage import StageContext
from seqmask.store import ArtifactRef
from seqmask.text.artifacts import CORPUS, MONOLINGUAL, TOKENIZER_MODEL
from seqmask.text.config import TokenizerConfig
from seqmask.text.stages import tokenizer as tokenizer_stage
from seqmask.text.tokenizer import (
    XLMR_MODEL_FILE,
    Vocabulary,
    train_sentencepiece,
    unknown_rates,
)

ENGLISH = ["open the file", "save the document", "close the window", "print the page", "the file is open"] * 40


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / TOKENIZER_MODEL
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
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(ENGLISH),
        model_writer=model,
        vocab_size=40,
        model_type="unigram",
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    (tmp_path / XLMR_MODEL_FILE).write_bytes(model.getvalue())
    vocab = Vocabulary.load(tmp_path / XLMR_MODEL_FILE)
    raw = vocab.processor.encode("open the file")
    assert vocab.ids("open the file") == [i + 1 for i in raw]
    assert vocab.ids("ф")[-1] == vocab.unk == 3  # an unknown piece maps to XLM-R's <unk>, not to <s>+1
    assert vocab.size == vocab.processor.get_piece_size() + 2 and vocab.mask == vocab.size - 1
    assert vocab.token(vocab.ids("open")[-1]) == vocab.processor.id_to_piece(
        raw[-1] if (raw := vocab.processor.encode("open")) else 0
    )


def test_a_model_without_special_pieces_is_refused(tmp_path) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(ENGLISH),
        model_writer=model,
        vocab_size=40,
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=-1,
        minloglevel=2,
    )
    (tmp_path / "user.model").write_bytes(model.getvalue())
    expected = r"expected <s>, <pad>, </s> and <unk> pieces, found none for \['bos', 'pad', 'eos'\]"
    with pytest.raises(
        ValueError, match=rf"^sentencepiece model {re.escape(str(tmp_path / 'user.model'))}: {expected}"
    ):
        Vocabulary.load(tmp_path / "user.model")


def test_an_unreadable_model_file_is_named(tmp_path) -> None:
    (tmp_path / "user.model").write_bytes(b"not a sentencepiece model")
    with pytest.raises(
        ValueError,
        match=(
            rf"^{re.escape(str(tmp_path / 'user.model'))}: expected a sentencepiece model,"
            r" found a file sentencepiece cannot"
        ),
    ):
        Vocabulary.load(tmp_path / "user.model")


def test_the_stage_names_the_users_model_not_the_artifacts_copy(tmp_path) -> None:
    corpus, out, given = tmp_path / "corpus", tmp_path / "store-tmp-key", tmp_path / "user.model"
    corpus.mkdir()
    out.mkdir()
    (corpus / MONOLINGUAL).write_text("")
    given.write_bytes(b"not a sentencepiece model")
    ctx = StageContext(
        config=tokenizer_stage.Config(tokenizer=TokenizerConfig(model=str(given)), init_from=None),
        out=out,
        executor=Executor(),
        stage="text-tokenizer",
        scratch=tmp_path / "scratch",
        inputs={CORPUS: ArtifactRef(key="k", digest="d", stage="text-prep", uri=f"file://{corpus}")},
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(str(given))}: expected a sentencepiece model") as raised:
        tokenizer_stage.build(ctx)
    assert str(out) not in str(raised.value)
