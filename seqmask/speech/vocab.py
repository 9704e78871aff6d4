"""CTC output units: characters or sentencepiece pieces of normalised text (:func:`~seqmask.data.text.normalize_text`).

Index 0 of every vocabulary is the CTC blank.  A character vocabulary then has
``"|"``, the word boundary (a space in the text), and the characters in sorted
order.  A sentencepiece vocabulary has the pieces of a unigram model in the
model's order (its ``<unk>`` included), so unit ``i`` is sentencepiece id ``i - 1``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sentencepiece as spm

from seqmask.data.text import normalize_text

BLANK = "<blank>"
"""Token of the CTC blank, index 0."""
BLANK_ID = 0
WORD_BOUNDARY = "|"
"""Character-vocabulary token of a space."""


class Vocabulary:
    """CTC output units: encode normalised text to unit ids and decode them back."""

    def __init__(self, tokens: Sequence[str], *, sp_model: bytes | None = None) -> None:
        """Use :meth:`chars`, :meth:`sentencepiece` or :meth:`from_dict` rather than this."""
        if not tokens or tokens[0] != BLANK:
            raise ValueError(f"tokens must start with the blank {BLANK!r}, found {list(tokens[:3])}")
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.sp_model = sp_model
        self._sp = None if sp_model is None else spm.SentencePieceProcessor(model_proto=sp_model)
        self._index = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def chars(cls, texts: Iterable[str]) -> Vocabulary:
        """Blank, word boundary, then every character of the normalised ``texts`` in sorted order."""
        chars = sorted(set("".join(normalize_text(text) for text in texts)) - {" "})
        if not chars:
            raise ValueError("texts must hold at least one letter or digit after normalisation, found none")
        return cls((BLANK, WORD_BOUNDARY, *chars))

    @classmethod
    def sentencepiece(cls, texts: Iterable[str], *, vocab_size: int, work_dir: Path) -> Vocabulary:
        """Blank, then the pieces of a unigram sentencepiece model trained on the normalised ``texts``.

        Every character of the texts becomes a piece (character coverage 1), so
        only characters never seen in training are unknown. ``vocab_size``
        counts the pieces, at most: small corpora give fewer. The model is
        written to ``work_dir/sentencepiece.model`` and kept in memory.
        """
        sentences = [sentence for sentence in map(normalize_text, texts) if sentence]
        if not sentences:
            raise ValueError("texts must hold at least one non-empty sentence after normalisation, found none")
        work_dir.mkdir(parents=True, exist_ok=True)
        prefix = work_dir / "sentencepiece"
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_prefix=str(prefix),
            model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=1.0,
            normalization_rule_name="identity",
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            minloglevel=2,
        )
        sp_model = prefix.with_suffix(".model").read_bytes()
        sp = spm.SentencePieceProcessor(model_proto=sp_model)
        return cls((BLANK, *(sp.id_to_piece(i) for i in range(sp.get_piece_size()))), sp_model=sp_model)

    def encode(self, text: str) -> list[int]:
        """Unit ids of ``normalize_text(text)`` (no blanks); a character the units lack raises ``ValueError``."""
        normalized = normalize_text(text)
        unknown = [ch for ch in normalized if ch != " " and not self._knows(ch)]
        if unknown:
            raise ValueError(
                f"character {unknown[0]!r} of text {text!r} is not in the vocabulary "
                f"({len(self.tokens)} units), expected only characters seen when it was built"
            )
        if self._sp is None:
            return [self._index[WORD_BOUNDARY if ch == " " else ch] for ch in normalized]
        return [piece + 1 for piece in self._sp.encode(normalized)]

    def _knows(self, ch: str) -> bool:
        """Whether the units can spell character ``ch``."""
        if self._sp is None:
            return ch in self._index
        return self._sp.piece_to_id(ch) != self._sp.unk_id()

    def decode(self, ids: Sequence[int]) -> str:
        """Text of unit ids without blanks (collapse CTC output first), spaces normalised."""
        bad = [i for i in ids if not BLANK_ID < i < len(self.tokens)]
        if bad:
            raise ValueError(f"unit ids must lie in [1, {len(self.tokens) - 1}] (no blank), found {bad[:5]}")
        if self._sp is None:
            text = "".join(" " if self.tokens[i] == WORD_BOUNDARY else self.tokens[i] for i in ids)
        else:
            text = self._sp.decode([i - 1 for i in ids])
        return " ".join(text.split())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: the tokens and, for sentencepiece, the model as base64."""
        sp_model = None if self.sp_model is None else base64.b64encode(self.sp_model).decode("ascii")
        return {"tokens": list(self.tokens), "sentencepiece": sp_model}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(d, dict) or "tokens" not in d:
            raise ValueError(f"expected a vocabulary dict with 'tokens' (Vocabulary.to_dict), found {type(d).__name__}")
        sp_model = d.get("sentencepiece")
        return cls(d["tokens"], sp_model=None if sp_model is None else base64.b64decode(sp_model))

    def __repr__(self) -> str:
        kind = "chars" if self._sp is None else "sentencepiece"
        return f"Vocabulary({kind}, {len(self.tokens)} units)"
