"""Capped reading of plain, gzip- and xz-compressed text: the cap counts the inflated bytes, and every reader of user
text files (BVH, bitext, CoNLL-U, Tatoeba) stops at it."""

from __future__ import annotations

import gzip
import lzma
import re
from pathlib import Path

import pytest

from seqmask.data.compressed import NotCompressedAsNamed, TooLarge, open_capped
from seqmask.data.conllu import read_conllu
from seqmask.data.tatoeba import tatoeba_sentences

TEXT = b"one line\nanother line\nthe last line\n"
WRITERS = {"plain": lambda data: data, ".gz": lambda data: gzip.compress(data, mtime=0), ".xz": lzma.compress}


def _write(tmp_path: Path, suffix: str, data: bytes, name: str = "text") -> Path:
    path = tmp_path / (name + ("" if suffix == "plain" else suffix))
    path.write_bytes(WRITERS[suffix](data))
    return path


@pytest.mark.parametrize("suffix", WRITERS)
def test_a_file_at_the_cap_reads_whole_and_one_byte_over_it_stops(tmp_path, suffix):
    path = _write(tmp_path, suffix, TEXT)
    with open_capped(path, len(TEXT)) as stream:
        assert list(stream) == TEXT.splitlines(keepends=True)
    with open_capped(path, len(TEXT) - 1) as stream:
        assert stream.readline() == b"one line\n"  # lines before the cap are whole
        stream.readline()
        with pytest.raises(
            TooLarge, match=re.escape(f"{path}: expected at most {len(TEXT) - 1} bytes of text (the size cap)")
        ):
            stream.readline()


@pytest.mark.parametrize("suffix", [".gz", ".xz"])
def test_a_file_that_is_not_the_compression_its_name_says_is_named(tmp_path, suffix):
    path = tmp_path / f"text{suffix}"
    path.write_bytes(TEXT)
    with pytest.raises(
        NotCompressedAsNamed, match=re.escape(f"{path}: expected {'gzip' if suffix == '.gz' else 'xz'}-compressed text")
    ):
        list(open_capped(path, 1 << 20))


def test_a_conllu_bomb_stops_at_the_cap(tmp_path):
    row = b"1\tword\tword\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
    path = _write(tmp_path, ".gz", row * 100_000, name="bomb.conllu")  # 3 MB of sentences in a few KB
    assert len(read_conllu(path)) == 100_000
    with pytest.raises(TooLarge, match=re.escape(str(path))):
        read_conllu(path, max_bytes=100_000)


def test_a_tatoeba_bomb_stops_at_the_cap(tmp_path):
    _write(tmp_path, ".gz", b"a sentence\n" * 100_000, name="tatoeba.xxx-eng.eng")
    assert tatoeba_sentences(tmp_path) == ["a sentence"]
    with pytest.raises(TooLarge, match="tatoeba.xxx-eng.eng.gz: expected at most 1000 bytes"):
        tatoeba_sentences(tmp_path, max_bytes=1000)
