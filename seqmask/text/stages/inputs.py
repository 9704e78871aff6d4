"""Reading a text stage's inputs: the corpus of ``text-prep``, the vocabulary of ``tokenizer``, the word tags of ``tag``,
and the training rows and mining sets built from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from seqmask.files import read_jsonl
from seqmask.data.bitext import Pair

from seqmask.text.mlm import Row
from seqmask.text.model import LANGUAGES_FILE
from seqmask.text.prep import Sentence
from seqmask.text.tokenizer import MODEL_FILE, XLMR_MODEL_FILE, Vocabulary
from seqmask.text.units import Encoded, Word, encode_units

if TYPE_CHECKING:
    from seqmask.stage import StageContext

TAGS_FILE = "tags.jsonl"
"""Rows ``{"language", "text", "words": [[start, end, kind, entity], ...]}`` of the ``tag`` artifact."""


def monolingual(ctx: StageContext) -> list[Sentence]:
    return read_jsonl(ctx.input_path("corpus") / "monolingual.jsonl", Sentence)


def parallel(ctx: StageContext) -> list[Pair]:
    return read_jsonl(ctx.input_path("corpus") / "parallel.jsonl", Pair)


def mining_sets(ctx: StageContext, split: str) -> dict[str, list[Pair]]:
    """Pair name -> pairs of the ``valid`` or ``test`` mining sets."""
    folder = ctx.input_path("corpus") / "mining" / split
    return {path.stem: read_jsonl(path, Pair) for path in sorted(folder.glob("*.jsonl"))}


def vocabulary(ctx: StageContext) -> Vocabulary:
    folder = ctx.input_path("tokenizer")
    return Vocabulary.load(folder / XLMR_MODEL_FILE if (folder / XLMR_MODEL_FILE).is_file() else folder / MODEL_FILE)


def languages(ctx: StageContext) -> dict[str, int]:
    """Language -> language id (the order the tokenizer recorded)."""
    names = json.loads((ctx.input_path("tokenizer") / LANGUAGES_FILE).read_text(encoding="utf-8"))
    return {name: index for index, name in enumerate(names)}


def tags(ctx: StageContext) -> dict[tuple[str, str], list[Word]]:
    """``(language, text)`` -> its tagged words."""
    found = {}
    for line in (ctx.input_path("tag") / TAGS_FILE).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        found[(row["language"], row["text"])] = [Word(*word) for word in row["words"]]
    return found


def encode(texts: Sequence[tuple[str, str]], vocab: Vocabulary, tagged: dict[tuple[str, str], list[Word]] | None, per: str) -> dict[tuple[str, str], Encoded]:
    """``(language, text)`` -> its pieces with masking units (no units without tags)."""
    return {key: encode_units(key[1], tagged.get(key, []) if tagged else [], vocab, per=per) for key in dict.fromkeys(texts)}


def mlm_rows(sentences: Sequence[Sentence], encoded: dict[tuple[str, str], Encoded], language_ids: dict[str, int]) -> list[Row]:
    return [((encoded[(s.language, s.text)],), (language_ids[s.language],)) for s in sentences]


def tlm_rows(pairs: Sequence[Pair], encoded: dict[tuple[str, str], Encoded], language_ids: dict[str, int]) -> list[Row]:
    return [
        ((encoded[(p.source_language, p.source)], encoded[(p.target_language, p.target)]), (language_ids[p.source_language], language_ids[p.target_language]))
        for p in pairs
    ]


def pair_texts(pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    return [key for p in pairs for key in ((p.source_language, p.source), (p.target_language, p.target))]


def heldout_rows(ctx: StageContext, vocab: Vocabulary, language_ids: dict[str, int]) -> list[Row]:
    """One MLM row per sentence of the validation mining sets: where held-out masked-token accuracy is read."""
    sentences = list(dict.fromkeys(key for pairs in mining_sets(ctx, "valid").values() for key in pair_texts(pairs)))
    encoded = encode(sentences, vocab, None, "word")
    return [((encoded[key],), (language_ids[key[0]],)) for key in sentences]
