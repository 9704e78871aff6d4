"""The text corpus: every mining pair kept out of the pretraining text, user files checked line by line."""

from __future__ import annotations

import gzip
import unicodedata

import pytest

from seqmask.data.bitext import Limits
from seqmask.text.config import MonolingualFile, ParallelFiles, TextPrepConfig
from seqmask.text.prep import Source, read_source, sources_of, split_corpus


def corpus_of(config: TextPrepConfig):
    found = [
        read_source(source, Limits(min_chars=config.min_chars, max_chars=config.max_chars))
        for source in sources_of(config)
    ]
    return split_corpus(found, test_pairs=config.test_pairs, valid_pairs=config.valid_pairs, seed=config.seed)


@pytest.fixture(scope="module")
def shipped():
    return corpus_of(TextPrepConfig())


def test_no_sentence_of_a_mining_pair_reaches_pretraining_text(shipped) -> None:
    held = {
        text.casefold()
        for sets in shipped.mining.values()
        for pairs in sets.values()
        for p in pairs
        for text in (p.source, p.target)
    }
    assert not held & {s.text.casefold() for s in shipped.monolingual}
    assert not held & {text.casefold() for p in shipped.parallel for text in (p.source, p.target)}
    assert {name: len(pairs) for name, pairs in shipped.mining["test"].items()} == {
        "eng-sin": 500,
        "eng-tam": 500,
        "sin-tam": 500,
        "tatoeba-tam-eng": 307,
    }
    assert {name: len(pairs) for name, pairs in shipped.mining["valid"].items()} == {
        "eng-sin": 200,
        "eng-tam": 200,
        "sin-tam": 200,
    }
    english = {p.source for p in shipped.mining["test"]["eng-sin"]}
    assert english == {
        p.source for p in shipped.mining["test"]["eng-tam"]
    }  # one held-out English string set, pivoted too
    assert {p.source_language + "-" + p.target_language for p in shipped.parallel} == {"eng-sin", "eng-tam", "sin-tam"}


def test_the_split_is_seeded(shipped) -> None:
    again = corpus_of(TextPrepConfig())
    other = corpus_of(TextPrepConfig(seed=1))
    assert again.mining == shipped.mining
    assert {p.source for p in other.mining["test"]["eng-sin"]} != {p.source for p in shipped.mining["test"]["eng-sin"]}


def test_bad_lines_of_user_files_are_rejected_with_file_and_line(tmp_path) -> None:
    source, target, mono = tmp_path / "a.eng", tmp_path / "b.tam", tmp_path / "m.eng"
    source.write_bytes("Open the file\n\nSave the document\nClose \xff it\n".encode().replace(b"\xc3\xbf", b"\xff"))
    target.write_text("கோப்பைத் திற\nஆவணத்தைச் சேமி\nஆவணத்தைச் சேமி\nமூடு\n", encoding="utf-8")
    mono.write_text("A sentence of English.\nA sentence of English.\nஇது தமிழ் வாக்கியம்\n", encoding="utf-8")
    config = TextPrepConfig(
        libreoffice_languages=("sin",),
        tatoeba_languages=(),
        test_pairs=5,
        valid_pairs=5,
        parallel=(ParallelFiles(source=str(source), target=str(target), source_language="eng", target_language="tam"),),
        monolingual=(MonolingualFile(path=str(mono), language="eng"),),
    )
    corpus = corpus_of(config)
    reasons = {
        (r.origin.rsplit("/", 1)[-1], r.reason) for r in corpus.rejects if "a.eng" in r.origin or "m.eng" in r.origin
    }
    assert ("a.eng:4", "bad_utf8") in reasons and ("a.eng:2", "empty") in reasons
    assert ("m.eng:2", "duplicate") in reasons and ("m.eng:3", "wrong_script") in reasons
    kept = [p for p in corpus.parallel if p.target_language == "tam"]
    assert [(p.source, p.target) for p in kept] == [
        ("Open the file", "கோப்பைத் திற"),
        ("Save the document", "ஆவணத்தைச் சேமி"),
    ]


def test_parallel_files_of_different_lengths_name_both_files_and_counts(tmp_path) -> None:
    source, target = tmp_path / "a.txt", tmp_path / "b.txt"
    source.write_text("one\ntwo\nthree\n")
    target.write_text("un\ndeux\n")
    config = TextPrepConfig(
        parallel=(ParallelFiles(source=str(source), target=str(target), source_language="eng", target_language="fra"),)
    )
    with pytest.raises(ValueError, match=r"a\.txt has 3 lines but .*b\.txt has 2"):
        corpus_of(config)


def test_too_few_shared_english_strings_for_the_held_out_sets_is_an_error() -> None:
    with pytest.raises(ValueError, match="lower text_prep.test_pairs"):
        corpus_of(TextPrepConfig(test_pairs=5000))


def test_control_characters_and_a_bom_never_reach_the_pretraining_text(tmp_path) -> None:
    mono, ud = tmp_path / "m.eng", tmp_path / "ud"
    mono.write_bytes("\ufeffA first sentence.\nA NUL\x00 sentence.\nA last sentence.\n".encode())
    ud.mkdir()
    rows = "1\tGood\tgood\tADJ\t_\t_\t0\troot\t_\t_\n2\ttext\ttext\tNOUN\t_\t_\t1\tdep\t_\t_\n"
    # a BOM, and a NUL in a sentence
    treebank = f"\ufeff# sent_id = a\n# text = Good text\n{rows}\n# sent_id = b\n# text = Good\x00text\n{rows}\n"
    (ud / "en_x-ud-test.conllu").write_text(treebank, encoding="utf-8")
    config = TextPrepConfig(
        libreoffice_languages=("sin",),
        tatoeba_languages=(),
        test_pairs=5,
        valid_pairs=5,
        ud_dir=str(ud),
        monolingual=(MonolingualFile(path=str(mono), language="eng"),),
    )
    corpus = corpus_of(config)
    assert not [
        s.text
        for s in corpus.monolingual
        if "\ufeff" in s.text or any(unicodedata.category(ch) == "Cc" for ch in s.text)
    ]
    assert {"A first sentence.", "A last sentence.", "Good text"} <= {s.text for s in corpus.monolingual}
    bad = {(r.origin.rsplit("/", 1)[-1], r.detail) for r in corpus.rejects if r.reason == "bad_text"}
    assert bad == {
        ("m.eng:2", "control character U+0000 at column 6"),
        ("en_x-ud-test.conllu#b", "control character U+0000 at column 5"),
    }


def test_a_gzipped_file_inflating_past_the_cap_leaves_its_source_out_as_one_reject(tmp_path) -> None:
    big, small = tmp_path / "m.eng.gz", tmp_path / "m.fra"
    big.write_bytes(gzip.compress(b"A sentence of English.\n" * 1000))  # 23 000 bytes inflated
    small.write_text("Une phrase.\n" * 1000)
    limits = Limits(max_inflated_bytes=10_000)
    for source in (
        Source("monolingual", (str(big),), ("eng",)),
        Source("parallel", (str(small), str(big)), ("fra", "eng")),
    ):
        found = read_source(source, limits)
        assert (found.sentences, found.pairs) == ([], [])
        assert [(r.origin, r.reason) for r in found.rejects] == [(str(big), "too_large")]
        assert "text_prep.max_inflated_bytes = 10000 bytes: the whole source is left out" in found.rejects[0].detail
    assert len(read_source(Source("monolingual", (str(big),), ("eng",)), Limits()).sentences) == 1
