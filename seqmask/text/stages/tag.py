"""Stage ``text-tag``: every training sentence tagged by its language's spaCy tagger, in shards on Dask."""

from __future__ import annotations

import collections
import functools
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqmask.files import record_build, write_json
from seqmask.masking.kinds import KINDS
from seqmask.text.artifacts import CORPUS, SUMMARY_JSON, TAGGERS, TAGS
from seqmask.text.readers import monolingual, taggers
from seqmask.text.tagging import load_tagger, tag_texts

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (CORPUS, TAGGERS)
WRITES = (TAGS, SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """How the tagging is split into Dask tasks."""

    sentences_per_task: int
    """Sentences tagged per Dask task (``text.tag.sentences_per_task``)."""


def build(ctx: StageContext) -> None:
    """``tags.jsonl`` (a row per sentence: language, text, words as ``[start, end, kind, entity]``) and ``summary.json``
    (sentences, words per kind and entity spans per language, tagging seconds)."""
    by_language: dict[str, list[str]] = {}
    for sentence in monolingual(ctx):
        by_language.setdefault(sentence.language, []).append(sentence.text)
    size, tagger_of = ctx.config.sentences_per_task, taggers(ctx)
    shards = [
        (tagger_of[language], language, texts[start : start + size])
        for language, texts in sorted(by_language.items())
        for start in range(0, len(texts), size)
    ]
    started = time.perf_counter()
    tagged = ctx.executor.map(tag_shard, shards, desc="tagging")
    seconds = time.perf_counter() - started
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with (ctx.out / TAGS).open("w", encoding="utf-8") as stream:
        for (_, language, texts), words in zip(shards, tagged):
            for text, sentence_words in zip(texts, words):
                stream.write(
                    json.dumps({"language": language, "text": text, "words": sentence_words}, ensure_ascii=False) + "\n"
                )
                counts[language].update(KINDS[kind] for _, _, kind, _ in sentence_words)
                counts[language]["entity spans"] += len({entity for *_, entity in sentence_words if entity is not None})
                counts[language]["sentences"] += 1
    record_build(ctx.out, seconds=round(seconds, 2))
    write_json(ctx.out / SUMMARY_JSON, {"counts": {lang: dict(c) for lang, c in sorted(counts.items())}})


def tag_shard(shard: tuple[str, str, list[str]]) -> list[list[list[Any]]]:
    """The words of each text of a shard ``(tagger, language, texts)`` as ``[start, end, kind, entity]`` lists."""
    tagger, _, texts = shard
    return [[[w.start, w.end, w.kind, w.entity] for w in words] for words in tag_texts(_loaded(tagger), texts)]


@functools.lru_cache(maxsize=8)
def _loaded(tagger: str) -> Any:
    """A worker loads each tagger once."""
    return load_tagger(tagger)
