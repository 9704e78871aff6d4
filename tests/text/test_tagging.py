"""Word kinds for LEM: a UPOS tagger trained on a real treebank, words of tagged Docs, and how a language finds its
tagger."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc

from seqmask.data.conllu import read_conllu
from seqmask.files import BUILD_RECORD_FILE, read_build_record
from seqmask.masking.kinds import ENTITY, NOUN, OTHER, VERB
from seqmask.text.artifacts import MODEL
from seqmask.text.tagging import (
    _spaces,
    _split,
    load_tagger,
    spacy_lang,
    tag_texts,
    train_tagger,
    word_kinds,
)
from seqmask.text.units import Word

TAMIL = Path(__file__).resolve().parents[2] / "data/text/ud/UD_Tamil-MWTT/ta_mwtt-ud-test.conllu.gz"

WORDS = ["Kamal", "Perera", "lives", "in", "Sri", "Lanka", ",", "near", "Colombo", "!"]
SPACES = [True, True, True, True, True, False, True, True, False, False]
TAGS = ["PROPN", "PROPN", "VERB", "ADP", "PROPN", "PROPN", "PUNCT", "ADP", "PROPN", "X"]


@pytest.fixture(scope="module")
def tamil(tmp_path_factory):
    """A Tamil tagger trained briefly on the real treebank: its summary and output directory."""
    out_dir = tmp_path_factory.mktemp("tamil")
    return train_tagger(TAMIL, "tam", out_dir, max_steps=150, seed=0, width=64), out_dir


def test_trained_tagger_beats_the_majority_tag(tamil) -> None:
    summary, out_dir = tamil
    sentences = len(read_conllu(TAMIL))
    assert (
        summary["language"] == "tam"
        and summary["treebank"] == "data/text/ud/UD_Tamil-MWTT/ta_mwtt-ud-test.conllu.gz"
        and summary["steps"] == 150
    )
    assert summary["heldout_sentences"] == round(0.1 * sentences)
    assert summary["train_sentences"] + summary["heldout_sentences"] == sentences
    assert 0 < summary["majority_baseline_accuracy"] < 0.5
    assert summary["heldout_upos_accuracy"] > summary["majority_baseline_accuracy"] + 0.3
    assert read_build_record(out_dir)["seconds"] > 0  # the training time is a build fact, not part of the artifact
    assert sorted(path.name for path in out_dir.iterdir()) == [BUILD_RECORD_FILE, MODEL]  # no DocBin scratch dir


def test_loaded_tagger_gives_words_that_slice_the_text(tamil) -> None:
    nlp = load_tagger(str(tamil[1] / MODEL))
    assert nlp.pipe_names == ["tok2vec", "tagger"] and nlp.lang == "ta"
    texts = [sentence.text for sentence in read_conllu(TAMIL)[:20]]
    tagged = tag_texts(nlp, texts, batch_size=8)
    assert len(tagged) == len(texts)
    for text, words in zip(texts, tagged, strict=True):
        tokens = [token for token in nlp(text) if not (token.is_punct or token.tag_ in ("PUNCT", "SYM"))]
        assert [text[word.start : word.end] for word in words] == [token.text for token in tokens]
        assert all(word.kind in (OTHER, ENTITY, NOUN, VERB) for word in words)
        assert not any(text[word.start : word.end] == "." for word in words)
    assert any(word.kind == NOUN for words in tagged for word in words)
    assert any(word.kind == VERB for words in tagged for word in words)


def test_propn_runs_are_entity_spans_and_punctuation_is_no_word() -> None:
    doc = Doc(spacy.blank("en").vocab, words=WORDS, spaces=SPACES, tags=TAGS)
    assert doc.text == "Kamal Perera lives in Sri Lanka, near Colombo!"
    assert word_kinds(doc) == [
        Word(0, 5, ENTITY, 0),
        Word(6, 12, ENTITY, 0),
        Word(13, 18, VERB),
        Word(19, 21, OTHER),
        Word(22, 25, ENTITY, 1),
        Word(26, 31, ENTITY, 1),
        Word(33, 37, OTHER),
        Word(38, 45, ENTITY, 2),
    ]


def test_upos_is_read_from_pos_before_tag() -> None:
    doc = Doc(spacy.blank("en").vocab, words=["dogs", "bark"], tags=["NNS", "VBP"], pos=["NOUN", "VERB"])
    assert [(word.kind, word.entity) for word in word_kinds(doc)] == [(NOUN, None), (VERB, None)]


def test_recognised_entities_replace_propn_runs() -> None:
    ents = ["B-PERSON", "I-PERSON", "O", "O", "B-GPE", "I-GPE", "O", "O", "O", "O"]
    doc = Doc(spacy.blank("en").vocab, words=WORDS, spaces=SPACES, tags=["NOUN", *TAGS[1:]], ents=ents)
    kinds = [(word.kind, word.entity) for word in word_kinds(doc)]
    assert kinds == [
        (ENTITY, 0),
        (ENTITY, 0),
        (VERB, None),
        (OTHER, None),
        (ENTITY, 1),
        (ENTITY, 1),
        (OTHER, None),
        (OTHER, None),
    ]
    no_entities = Doc(spacy.blank("en").vocab, words=WORDS, spaces=SPACES, tags=TAGS, ents=["O"] * len(WORDS))
    assert ENTITY not in [word.kind for word in word_kinds(no_entities)]  # a recogniser ran and found none


def test_spaces_follow_the_text_or_fall_back_to_single_spaces() -> None:
    assert _spaces("Hello, world.", ["Hello", ",", "world", "."]) == [False, True, False, False]
    assert _spaces("del mar", ["de", "el", "mar"]) == [
        True,
        True,
        False,
    ]  # a multiword token: words do not spell the text


def test_heldout_split_is_seeded_and_disjoint() -> None:
    sentences = read_conllu(TAMIL)
    train, heldout = _split(sentences, 0.1, seed=3)
    assert (train, heldout) == _split(sentences, 0.1, seed=3)
    assert heldout != _split(sentences, 0.1, seed=4)[1]
    assert len(heldout) == 53 and sorted(s.sent_id for s in train + heldout) == sorted(s.sent_id for s in sentences)


def test_train_tagger_rejects_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"heldout_share: expected in \(0, 1\), found 0"):
        train_tagger(TAMIL, "tam", tmp_path, heldout_share=0, max_steps=10)
    with pytest.raises(ValueError, match="language: expected one of .*found 'xyz'"):
        train_tagger(TAMIL, "xyz", tmp_path, max_steps=10)
    with pytest.raises(ValueError, match="treebank: expected .*nowhere.conllu"):
        train_tagger(tmp_path / "nowhere.conllu", "tam", tmp_path, max_steps=10)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="treebank: expected .*empty"):
        train_tagger(tmp_path / "empty", "tam", tmp_path, max_steps=10)


def test_train_tagger_never_creates_the_parents_of_its_directory(tmp_path) -> None:
    removed = tmp_path / "removed-build-dir"
    with pytest.raises(
        FileNotFoundError, match=rf"^{re.escape(str(removed / 'tam'))}: expected its parent directory to exist"
    ):
        train_tagger(TAMIL, "tam", removed / "tam", max_steps=1)
    assert not removed.exists()


def test_train_tagger_reads_a_directory_of_treebanks(tmp_path) -> None:
    treebank = tmp_path / "treebank"
    treebank.mkdir()
    rows = [("a", "NOUN", "0", "root"), ("b", "VERB", "1", "dep"), (".", "PUNCT", "1", "punct")]
    lines = [
        "# text = a b .",
        *(f"{i}\t{w}\t{w}\t{t}\t_\t_\t{h}\t{d}\t_\t_" for i, (w, t, h, d) in enumerate(rows, start=1)),
        "",
    ]
    (treebank / "one.conllu").write_text("\n".join(lines * 6) + "\n")
    (treebank / "two.conllu").write_text("\n".join(lines * 4) + "\n")
    summary = train_tagger(treebank, "eng", tmp_path / "out", heldout_share=0.2, max_steps=20)
    assert (summary["train_sentences"], summary["heldout_sentences"]) == (8, 2)
    assert summary["heldout_upos_accuracy"] == 1.0 and (tmp_path / "out" / MODEL / "config.cfg").is_file()


def test_spacy_lang_maps_project_languages() -> None:
    assert [spacy_lang(code) for code in ("eng", "sin", "tam")] == ["en", "si", "ta"]
    with pytest.raises(ValueError, match="language: expected one of \\['eng', 'sin', 'tam'\\].*found 'en'"):
        spacy_lang("en")


def test_load_tagger_names_a_missing_pipeline(tmp_path) -> None:
    missing = str(tmp_path / "no-such-pipeline")
    with pytest.raises(ValueError, match=f"spaCy pipeline '{missing}' not found"):
        load_tagger(missing)
    with pytest.raises(ValueError, match="spaCy pipeline 'xx_no_such_package' not found"):
        load_tagger("xx_no_such_package")
