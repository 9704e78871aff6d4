"""Reading the text pipeline's artifacts (a stage's upstream files by role, through the names in
:mod:`seqmask.text.artifacts`) and the training rows built from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqmask.data.bitext import Pair
from seqmask.files import read_json_object, read_jsonl
from seqmask.text.artifacts import (
    CORPUS,
    LANGUAGES,
    MINING,
    MINING_SETS,
    MONOLINGUAL,
    PARALLEL,
    SUMMARY_JSON,
    TAG,
    TAGGER_SOURCES,
    TAGGERS,
    TAGS,
    TOKENIZER,
    TOKENIZER_MODEL,
)
from seqmask.text.prep import Sentence
from seqmask.text.tokenizer import XLMR_MODEL_FILE, Vocabulary
from seqmask.text.units import Encoded, Word, encode_units

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.batches import Row


Tagged = dict[tuple[str, str], list[Word]]
"""``(language, text)`` -> its tagged words (:func:`tags`)."""
EncodedTexts = dict[tuple[str, str], Encoded]
"""``(language, text)`` -> its pieces with masking units (:func:`encode`)."""


def monolingual(ctx: StageContext) -> list[Sentence]:
    return read_jsonl(ctx.input_path(CORPUS) / MONOLINGUAL, Sentence)


def parallel(ctx: StageContext) -> list[Pair]:
    return read_jsonl(ctx.input_path(CORPUS) / PARALLEL, Pair)


def mining_sets(ctx: StageContext, split: str) -> dict[str, list[Pair]]:
    """Pair name -> pairs of the ``valid`` or ``test`` mining sets."""
    folder = ctx.input_path(CORPUS) / MINING_SETS / split
    return {path.stem: read_jsonl(path, Pair) for path in sorted(folder.glob("*.jsonl"))}


def vocabulary(ctx: StageContext) -> Vocabulary:
    folder = ctx.input_path(TOKENIZER)
    return Vocabulary.load(folder / (XLMR_MODEL_FILE if (folder / XLMR_MODEL_FILE).is_file() else TOKENIZER_MODEL))


def languages(ctx: StageContext) -> dict[str, int]:
    """Language -> language id (the order the tokenizer recorded)."""
    names = json.loads((ctx.input_path(TOKENIZER) / LANGUAGES).read_text(encoding="utf-8"))
    return {name: index for index, name in enumerate(names)}


def taggers(ctx: StageContext) -> dict[str, str]:
    """Language -> what :func:`seqmask.text.tagging.load_tagger` loads for it from the ``text-taggers`` artifact."""
    folder = ctx.input_path(TAGGERS)
    sources = read_json_object(folder / TAGGER_SOURCES)
    return {
        language: source["pipeline"] if "pipeline" in source else str(folder / source["trained"])
        for language, source in sources.items()
    }


def tags(ctx: StageContext) -> Tagged:
    """``(language, text)`` -> its tagged words."""
    found = {}
    for line in (ctx.input_path(TAG) / TAGS).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        found[(row["language"], row["text"])] = [Word(*word) for word in row["words"]]
    return found


def encoder_folder(ctx: StageContext, role: str, folder: str) -> Path:
    """The encoder ``folder`` (:data:`MODEL`, :data:`MLM_MODEL`, :data:`UNTRAINED_MODEL`) of input ``role``, for
    :func:`seqmask.text.model.load_encoder`."""
    return ctx.input_path(role) / folder


def mining(ctx: StageContext, role: str) -> dict[str, Any] | None:
    """The :data:`MINING` of input ``role``; None when the stage has no such input (a stage not run)."""
    return json.loads((ctx.input_path(role) / MINING).read_text(encoding="utf-8")) if role in ctx.inputs else None


def summary(ctx: StageContext, role: str) -> dict[str, Any]:
    """The :data:`SUMMARY_JSON` of input ``role``."""
    return read_json_object(ctx.input_path(role) / SUMMARY_JSON)


# --- training rows -----------------------------------------------------------------------------


def encode(texts: Sequence[tuple[str, str]], vocab: Vocabulary, tagged: Tagged | None, per: str) -> EncodedTexts:
    """``(language, text)`` -> its pieces with masking units (no units without tags)."""
    return {
        key: encode_units(key[1], tagged.get(key, []) if tagged else [], vocab, per=per) for key in dict.fromkeys(texts)
    }


def mlm_rows(sentences: Sequence[Sentence], encoded: EncodedTexts, language_ids: dict[str, int]) -> list[Row]:
    return [((encoded[(s.language, s.text)],), (language_ids[s.language],)) for s in sentences]


def tlm_rows(pairs: Sequence[Pair], encoded: EncodedTexts, language_ids: dict[str, int]) -> list[Row]:
    return [
        (
            (encoded[(p.source_language, p.source)], encoded[(p.target_language, p.target)]),
            (language_ids[p.source_language], language_ids[p.target_language]),
        )
        for p in pairs
    ]


def pair_texts(pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    return [key for p in pairs for key in ((p.source_language, p.source), (p.target_language, p.target))]


def heldout_rows(ctx: StageContext, vocab: Vocabulary, language_ids: dict[str, int]) -> list[Row]:
    """One MLM row per sentence of the validation mining sets: where held-out masked-token accuracy is read."""
    sentences = list(dict.fromkeys(key for pairs in mining_sets(ctx, "valid").values() for key in pair_texts(pairs)))
    encoded = encode(sentences, vocab, None, "word")
    return [((encoded[key],), (language_ids[key[0]],)) for key in sentences]
