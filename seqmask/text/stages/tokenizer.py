"""Stage ``text-tokenizer``: a sentencepiece unigram model over the monolingual text of every language (or the user's,
or the ``init_from`` XLM-R's), the language ids, and each language's unknown-piece rate."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.paths import resolve_path
from seqmask.text.artifacts import CORPUS, LANGUAGES, MINING_SPLITS, SUMMARY_JSON, TOKENIZER_MODEL
from seqmask.text.readers import mining_sets, monolingual
from seqmask.text.tokenizer import XLMR_MODEL_FILE, Vocabulary, train_sentencepiece, unknown_rates

if TYPE_CHECKING:
    from seqmask.stage import StageContext
    from seqmask.text.config import TokenizerConfig

VERSION = 1
ROLES = (CORPUS,)
WRITES = (LANGUAGES, SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The tokenizer section, and the XLM-R directory whose sentencepiece model comes with it."""

    tokenizer: TokenizerConfig
    """The sentencepiece model to train (or the user's)."""
    init_from: str | None
    """``text.base.init_from``: an XLM-R directory whose ``sentencepiece.bpe.model`` is used unless ``tokenizer.model``
    names one."""


def build(ctx: StageContext) -> None:
    """``spm.model`` (or ``sentencepiece.bpe.model`` of an XLM-R), ``languages.json`` and ``summary.json``."""
    config, init_from = ctx.config.tokenizer, ctx.config.init_from
    sentences = monolingual(ctx)
    given = _given_model(config.model, init_from)
    if given is None:
        train_sentencepiece([s.text for s in sentences], ctx.out / TOKENIZER_MODEL, vocab_size=config.vocab_size)
        vocabulary = Vocabulary.load(ctx.out / TOKENIZER_MODEL)
    else:
        vocabulary = Vocabulary.load(given)  # checked where the user keeps it: its errors name that file, not the copy
        shutil.copyfile(given, ctx.out / (XLMR_MODEL_FILE if given.name == XLMR_MODEL_FILE else TOKENIZER_MODEL))
    texts: dict[str, list[str]] = {}
    for sentence in sentences:
        texts.setdefault(sentence.language, []).append(sentence.text)
    heldout: dict[str, list[str]] = {}
    for pairs in mining_sets(ctx, "test").values():
        for pair in pairs:
            heldout.setdefault(pair.source_language, []).append(pair.source)
            heldout.setdefault(pair.target_language, []).append(pair.target)
    mined = {
        lang
        for split in MINING_SPLITS
        for pairs in mining_sets(ctx, split).values()
        for p in pairs
        for lang in (p.source_language, p.target_language)
    }
    languages = sorted(set(texts) | mined)
    write_json(ctx.out / LANGUAGES, languages)
    warn = config.max_unknown_rate
    summary = {
        "model": str(given) if given else "trained here",
        "pieces": vocabulary.size,
        "unknown_rate_train": unknown_rates(vocabulary, texts, warn_above=warn),
        "unknown_rate_test": unknown_rates(vocabulary, heldout, warn_above=warn),
    }
    summary["uncovered"] = sorted(
        {lang for key in ("unknown_rate_train", "unknown_rate_test") for lang, r in summary[key].items() if r > warn}
    )
    write_json(ctx.out / SUMMARY_JSON, summary)


def _given_model(model: str | None, init_from: str | None) -> Path | None:
    """The user's sentencepiece model, else the ``init_from`` directory's, else None (train one)."""
    if model is not None:
        return resolve_path(model)
    if init_from is not None:
        path = resolve_path(init_from) / XLMR_MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"text.base.init_from {resolve_path(init_from)}: no {XLMR_MODEL_FILE}; set text.tokenizer.model to its "
                "sentencepiece model"
            )
        return path
    return None
