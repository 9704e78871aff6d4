"""Word kinds for LEM: a spaCy pipeline tags every word as named entity, noun, verb or other.

A language either has a spaCy pipeline (an installed package or a local
directory, loaded with ``load_tagger``) or a Universal Dependencies treebank, from
which ``train_tagger`` trains a small ``tok2vec`` + ``tagger`` pipeline predicting
UPOS into ``token.tag_``, in-process and on CPU. ``word_kinds`` turns a tagged
``Doc`` into ``seqmask.text.units.Word`` spans: entities come from ``doc.ents``
when the pipeline has a recogniser, else from runs of proper nouns; punctuation is
no word. Nothing is ever downloaded.
"""

from __future__ import annotations

import io
import logging
import random
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc, DocBin

from seqmask.data.conllu import TaggedSentence, read_conllu
from seqmask.files import record_build
from seqmask.masking.kinds import ENTITY, NOUN, OTHER, VERB
from seqmask.paths import config_path
from seqmask.text.artifacts import MODEL
from seqmask.text.units import Word

logger = logging.getLogger(__name__)

SPACY_LANG = {"eng": "en", "sin": "si", "tam": "ta"}
"""spaCy language code of each project language (ISO 639-3)."""
KIND_OF_UPOS = {"NOUN": NOUN, "VERB": VERB}
"""Word kind of a UPOS tag; entities aside, every other tag is ``OTHER``."""
SKIPPED_UPOS = frozenset({"PUNCT", "SYM"})
"""UPOS tags of tokens that are no word."""


def spacy_lang(language: str) -> str:
    """The spaCy language code of an ISO 639-3 project language."""
    if language not in SPACY_LANG:
        raise ValueError(f"language: expected one of {sorted(SPACY_LANG)} (ISO 639-3), found {language!r}")
    return SPACY_LANG[language]


def load_tagger(name_or_path: str) -> Any:
    """``spacy.load`` of an installed pipeline package or a local pipeline directory (never a download)."""
    path = Path(name_or_path)
    if (path / "config.cfg").is_file():
        return spacy.load(path)
    if spacy.util.is_package(name_or_path):
        return spacy.load(name_or_path)
    raise ValueError(
        f"spaCy pipeline {name_or_path!r} not found: expected an installed pipeline package name or a local pipeline "
        "directory holding config.cfg (pipelines are never downloaded)"
    )


def word_kinds(doc: Doc) -> list[Word]:
    """The words of a tagged ``Doc`` (character spans of ``doc.text``) with their kinds and entity spans."""
    entity_of_token = _ner_entities(doc) if doc.has_annotation("ENT_IOB") else _propn_entities(doc)
    words = []
    for token in doc:
        upos = token.pos_ or token.tag_
        if upos in SKIPPED_UPOS or token.is_punct or token.is_space:
            continue
        entity = entity_of_token.get(token.i)
        kind = ENTITY if entity is not None else KIND_OF_UPOS.get(upos, OTHER)
        words.append(Word(token.idx, token.idx + len(token.text), kind, entity))
    return words


def tag_texts(nlp: Any, texts: Sequence[str], batch_size: int = 256) -> list[list[Word]]:
    """The words of every text, tagged by ``nlp`` in batches."""
    return [word_kinds(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]


def _ner_entities(doc: Doc) -> dict[int, int]:
    """Entity span (its index in ``doc.ents``) of every token inside one."""
    return {token.i: index for index, span in enumerate(doc.ents) for token in span}


def _propn_entities(doc: Doc) -> dict[int, int]:
    """Entity span of every proper noun: each run of consecutive ``PROPN`` tokens is one span."""
    entities: dict[int, int] = {}
    spans = 0
    for token in doc:
        if (token.pos_ or token.tag_) != "PROPN":
            continue
        if token.i - 1 not in entities:
            spans += 1
        entities[token.i] = spans - 1
    return entities


def train_tagger(
    treebank: Path,
    language: str,
    out_dir: Path,
    *,
    heldout_share: float = 0.1,
    max_steps: int,
    seed: int = 0,
    width: int = 96,
) -> dict[str, Any]:
    """Train a ``tok2vec`` + ``tagger`` UPOS pipeline on a UD treebank into ``out_dir/model``; returns a summary (and
    records the training's seconds in ``out_dir``'s build record)."""
    if not 0 < heldout_share < 1:
        raise ValueError(f"heldout_share: expected in (0, 1), found {heldout_share}")
    if max_steps < 1:
        raise ValueError(f"max_steps: expected an integer >= 1, found {max_steps}")
    if width < 8:
        raise ValueError(f"width: expected an integer >= 8, found {width}")
    lang = spacy_lang(language)
    train, heldout = _split(_read_treebank(Path(treebank)), heldout_share, seed)
    started = time.perf_counter()
    out_dir = _own_dir(Path(out_dir))
    vocab = spacy.blank(lang).vocab
    with tempfile.TemporaryDirectory(dir=out_dir, prefix="corpus-") as scratch:
        paths = {"train": Path(scratch) / "train.spacy", "dev": Path(scratch) / "dev.spacy"}
        DocBin(docs=_docs(vocab, train)).to_disk(paths["train"])
        DocBin(docs=_docs(vocab, heldout)).to_disk(paths["dev"])
        nlp = _train(_config(lang, paths, max_steps=max_steps, seed=seed, width=width))
    for (
        corpus
    ) in paths:  # files of the scratch directory, gone: the saved config names no path and repeats byte for byte
        nlp.config["paths"][corpus] = None
    nlp.to_disk(out_dir / MODEL)
    seconds = time.perf_counter() - started
    gold = [tag for sentence in heldout for tag in sentence.tags]  # (held-out words,) UPOS
    predicted = [
        token.tag_ for doc in nlp.pipe(_docs(nlp.vocab, heldout, tagged=False)) for token in doc
    ]  # (held-out words,)
    majority = Counter(tag for sentence in train for tag in sentence.tags).most_common(1)[0][0]
    summary = {
        "language": language,
        "treebank": config_path(treebank),
        "train_sentences": len(train),
        "heldout_sentences": len(heldout),
        "heldout_upos_accuracy": sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold),
        "majority_baseline_accuracy": gold.count(majority) / len(gold),
        "steps": max_steps,
    }
    record_build(out_dir, seconds=round(seconds, 2))
    logger.info("trained %s tagger: %s", language, summary)
    return summary


def _own_dir(out_dir: Path) -> Path:
    """``out_dir``, made if missing; its parent must exist: a training that outlived its stage must not recreate a build
    directory the store has removed."""
    if not out_dir.parent.is_dir():
        raise FileNotFoundError(f"{out_dir}: expected its parent directory to exist (it is never created), found none")
    out_dir.mkdir(exist_ok=True)
    return out_dir


def _read_treebank(treebank: Path) -> list[TaggedSentence]:
    """Every sentence of a ``.conllu[.gz]`` file, or of the ones in a directory (sorted by name)."""
    files = sorted([*treebank.glob("*.conllu"), *treebank.glob("*.conllu.gz")]) if treebank.is_dir() else [treebank]
    if not files or not all(file.is_file() for file in files):
        raise ValueError(f"treebank: expected a .conllu[.gz] file or a directory holding them, found {str(treebank)!r}")
    sentences = [sentence for file in files for sentence in read_conllu(file)]
    if len(sentences) < 2:
        raise ValueError(f"treebank: expected at least 2 sentences, found {len(sentences)} in {str(treebank)!r}")
    return sentences


def _split(
    sentences: list[TaggedSentence], share: float, seed: int
) -> tuple[list[TaggedSentence], list[TaggedSentence]]:
    """Training and held-out sentences: a seeded shuffle, ``share`` of it (at least one sentence) held out."""
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    cut = min(max(1, round(share * len(sentences))), len(sentences) - 1)
    return [sentences[i] for i in sorted(order[cut:])], [sentences[i] for i in sorted(order[:cut])]


def _docs(vocab: Any, sentences: Iterable[TaggedSentence], *, tagged: bool = True) -> list[Doc]:
    """One ``Doc`` per sentence on its gold words, with the UPOS tags in ``tag_`` when ``tagged``."""
    return [
        Doc(vocab, words=list(s.words), spaces=_spaces(s.text, s.words), tags=list(s.tags) if tagged else None)
        for s in sentences
    ]


def _spaces(text: str, words: Sequence[str]) -> list[bool]:
    """Whether a space follows each word in ``text``; single spaces when the words do not spell the text (multiword
    tokens)."""
    spaces, cursor = [], 0
    for word in words:
        at = text.find(word, cursor)
        if at < 0 or text[cursor:at].strip():
            return [True] * (len(words) - 1) + [False]
        cursor = at + len(word)
        spaces.append(cursor < len(text) and text[cursor].isspace())
    return spaces


def _config(lang: str, paths: Mapping[str, Path], *, max_steps: int, seed: int, width: int) -> Any:
    """spaCy's efficiency ``tagger`` training config, shrunk to ``max_steps`` updates on gold words."""
    from spacy.cli.init_config import init_config

    config = init_config(lang=lang, pipeline=["tagger"], optimize="efficiency", silent=True)
    overrides = {
        "paths.train": str(paths["train"]),
        "paths.dev": str(paths["dev"]),
        "system.seed": seed,
        "corpora.train.gold_preproc": True,  # train on the treebank's words, not spaCy's re-tokenisation
        "corpora.dev.gold_preproc": True,
        "training.max_steps": max_steps,
        "training.max_epochs": 0,  # as many passes as the steps take
        "training.patience": 0,  # no early stop: the last model is the one kept
        "training.eval_frequency": max_steps,
        "training.logger.progress_bar": False,
        "components.tok2vec.model.encode.width": width,
    }
    return config.merge(_nested(overrides))


def _nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}``."""
    nested: dict[str, Any] = {}
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return nested


def _train(config: Any) -> Any:
    """Initialise and train the pipeline of ``config`` in-process; spaCy's console table goes to the debug log."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train

    console = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W033\]")  # no lexeme norm table: expected for a blank pipeline
        nlp = init_nlp(config)
        nlp, _ = train(nlp, None, stdout=console, stderr=console)
    logger.debug("spaCy training log:\n%s", console.getvalue())
    return nlp


if __name__ == "__main__":  # what the ``text-taggers`` stage runs: one training per fresh process, its summary as JSON
    import json
    import sys

    treebank_arg, language_arg, out_arg, steps_arg, heldout_arg = sys.argv[1:6]
    print(
        json.dumps(
            train_tagger(
                Path(treebank_arg),
                language_arg,
                Path(out_arg),
                heldout_share=float(heldout_arg),
                max_steps=int(steps_arg),
            )
        )
    )
