"""Sentencepiece vocabularies in XLM-R's id layout: train one, read a user's, or read a Hugging Face XLM-R's.

XLM-R numbers ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, then the pieces,
and ``<mask>`` last. A model trained here is built with exactly those ids (offset
0). XLM-R's own ``sentencepiece.bpe.model`` numbers ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2
and its pieces from 3, so its ids are shifted by one (fairseq's offset) and its
unknown piece mapped to 3, as ``XLMRobertaTokenizer`` does. Pieces keep their byte
offsets into the sentence, which is how word tags reach them
(:mod:`seqmask.text.units`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

log = logging.getLogger(__name__)

XLMR_MODEL_FILE = "sentencepiece.bpe.model"
"""The sentencepiece model of a Hugging Face XLM-R directory."""


@dataclass(frozen=True, kw_only=True)
class Specials:
    """Ids of the special tokens, and the first position id (XLM-R: ``padding_idx + 1``)."""

    bos: int = 0
    pad: int = 1
    eos: int = 2
    first_position: int = 2


@dataclass(frozen=True)
class Piece:
    """A piece of a sentence: its model id and its bytes ``[begin, end)`` in the UTF-8 sentence."""

    id: int
    begin: int
    end: int


class Vocabulary:
    """A sentencepiece model with the ids an XLM-R model uses."""

    def __init__(self, processor: spm.SentencePieceProcessor, path: Path, *, offset: int = 0) -> None:
        self.processor = processor
        self.path = Path(path)
        """The model file."""
        self.offset = offset
        if offset == 0:
            ids = {
                "bos": processor.bos_id(),
                "pad": processor.pad_id(),
                "eos": processor.eos_id(),
                "unk": processor.unk_id(),
            }
            missing = [name for name, value in ids.items() if value < 0]
            if missing:
                raise ValueError(
                    f"sentencepiece model {self.path}: expected <s>, <pad>, </s> and <unk> pieces, found none for "
                    f"{missing}"
                )
            self.specials = Specials(bos=ids["bos"], pad=ids["pad"], eos=ids["eos"], first_position=ids["pad"] + 1)
            self.unk = ids["unk"]
            self.size = processor.get_piece_size() + 1
        else:  # XLM-R: <s> 0, <pad> 1, </s> 2, <unk> 3, piece p -> p + 1
            self.specials = Specials(bos=0, pad=1, eos=2, first_position=2)
            self.unk = 3
            self.size = processor.get_piece_size() + offset + 1
        self.mask = self.size - 1
        """``<mask>``: the id after every piece."""

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """A model file: ``sentencepiece.bpe.model`` of an XLM-R directory gets fairseq's offset, any other none."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sentencepiece model {path} does not exist")
        try:
            processor = spm.SentencePieceProcessor(model_file=str(path))
        except RuntimeError as err:
            raise ValueError(
                f"{path}: expected a sentencepiece model, found a file sentencepiece cannot load ({err})"
            ) from None
        return cls(processor, path, offset=1 if path.name == XLMR_MODEL_FILE else 0)

    def pieces(self, text: str) -> list[Piece]:
        """The pieces of ``text`` with their ids and byte offsets."""
        return [
            Piece(self._id(piece.id), piece.begin, piece.end)
            for piece in self.processor.encode(text, out_type="proto").pieces
        ]

    def ids(self, text: str) -> list[int]:
        return [piece.id for piece in self.pieces(text)]

    def _id(self, raw: int) -> int:
        if self.offset and raw == self.processor.unk_id():
            return self.unk
        return raw + self.offset

    def token(self, id_: int) -> str:
        """The piece an id stands for (special tokens by name)."""
        names = {
            self.specials.bos: "<s>",
            self.specials.pad: "<pad>",
            self.specials.eos: "</s>",
            self.unk: "<unk>",
            self.mask: "<mask>",
        }
        return names.get(id_) or self.processor.id_to_piece(id_ - self.offset)

    def unknown_rate(self, texts: Iterable[str]) -> float:
        """Share of pieces of ``texts`` that are ``<unk>``."""
        pieces = unknown = 0
        for text in texts:
            ids = self.ids(text)
            pieces += len(ids)
            unknown += sum(1 for i in ids if i == self.unk)
        return unknown / pieces if pieces else 0.0


def train_sentencepiece(texts: Sequence[str], path: Path, *, vocab_size: int) -> None:
    """A unigram model over ``texts`` in XLM-R's id layout, written to ``path``; full character coverage (every script
    of the text gets its letters); deterministic (one thread, every sentence read)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        num_threads=1,
        minloglevel=2,
    )
    Path(path).write_bytes(model.getvalue())


def unknown_rates(
    vocabulary: Vocabulary, texts_by_language: Mapping[str, Sequence[str]], *, warn_above: float
) -> dict[str, float]:
    """The unknown-piece rate per language; a language above ``warn_above`` is logged as a warning (its script is not
    covered)."""
    rates = {
        language: round(vocabulary.unknown_rate(texts), 5) for language, texts in sorted(texts_by_language.items())
    }
    for language, rate in rates.items():
        if rate > warn_above:
            log.warning(
                "tokenizer: %.1f%% of the pieces of %s text are <unk> (above %.1f%%): the sentencepiece model does not "
                "cover its script; train the tokenizer on text of this language or use a model that covers it",
                100 * rate,
                language,
                100 * warn_above,
            )
    return rates
