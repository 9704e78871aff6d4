"""Text normalisation shared by every corpus: transcripts for output units and error rates, and sentence keys."""

from __future__ import annotations

import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
"""Typographic apostrophes, written as ``'``."""


def normalize_text(text: str) -> str:
    """NFKC, lowercase; keep letters of any script (with their combining marks), digits and ``'``.

    Every other character becomes a space; runs of spaces collapse to one and
    the ends are stripped.
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    kept = "".join(ch if _is_text_char(ch) else " " for ch in text)
    return " ".join(kept.split())


def _is_text_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch == "'" or category[0] in "LM" or category == "Nd"


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same one (for splits and dedupe): case-folded words without apostrophes.

    ``"Tom's here!"`` -> ``"tom s here"``; ``"Straße"`` and ``"STRASSE"`` share a key.
    """
    return " ".join(normalize_text(sentence).casefold().replace("'", " ").split())
