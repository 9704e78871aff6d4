"""LASER's Tatoeba sentence files: ``tatoeba.{xxx}-eng.{xxx}`` and ``.eng``, line-aligned, optionally gzipped."""

from __future__ import annotations

from pathlib import Path

from seqmask.data.compressed import MAX_TEXT_BYTES, open_capped


def tatoeba_sentences(tatoeba_dir: Path, language: str = "eng", *, max_bytes: int = MAX_TEXT_BYTES) -> list[str]:
    """Unique, stripped, sorted sentences of every ``*.{language}.gz`` and ``*.{language}`` file, each read line by line
    up to ``max_bytes`` of (inflated) text (:class:`~seqmask.data.compressed.TooLarge` past it).

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
        with open_capped(path, max_bytes) as stream:
            for number, raw in enumerate(stream, start=1):
                try:
                    sentences.add(raw.decode("utf-8").strip())
                except UnicodeDecodeError as err:
                    raise ValueError(
                        f"{path}:{number}: expected UTF-8 text, found an invalid byte at column {err.start + 1}"
                    ) from None
    sentences.discard("")
    return sorted(sentences)
