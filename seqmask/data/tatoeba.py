"""LASER's Tatoeba sentence files: ``tatoeba.{xxx}-eng.{xxx}`` and ``.eng``, line-aligned, optionally gzipped."""

from __future__ import annotations

import gzip
from pathlib import Path


def tatoeba_sentences(tatoeba_dir: Path, language: str = "eng") -> list[str]:
    """Unique, stripped, sorted sentences of every ``*.{language}.gz`` and ``*.{language}`` file.

    With the default ``"eng"`` this is the English side of every language pair.
    """
    tatoeba_dir = Path(tatoeba_dir)
    if not tatoeba_dir.is_dir():
        raise FileNotFoundError(f"Tatoeba directory not found: {tatoeba_dir}")
    files = sorted([*tatoeba_dir.glob(f"*.{language}.gz"), *tatoeba_dir.glob(f"*.{language}")])
    if not files:
        raise FileNotFoundError(f"{tatoeba_dir}: expected *.{language}.gz or *.{language} files, found none")
    sentences: set[str] = set()
    for path in files:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: expected UTF-8 text, found an invalid byte at offset {err.start}") from None
        sentences.update(line.strip() for line in text.splitlines())
    sentences.discard("")
    return sorted(sentences)
