"""The text corpus: sources read in parallel, then one split that keeps every mining pair out of all pretraining text.

Sources are LibreOffice's English-x interface strings, Tatoeba test pairs, UD
treebank sentences and a user's parallel or monolingual files (read by
:mod:`seqmask.data.bitext`, each line kept or rejected with a reason). The
held-out English strings are those translated (once) on every LibreOffice side,
ordered by a seeded hash: the first ``test_pairs`` make the test sets and the next
``valid_pairs`` the validation sets, each as English-x pairs and as the pivoted
x-y pair. Every sentence of a held-out pair (any side, case-folded) is then
removed from the training pairs and from the monolingual text, so pretraining never
sees a sentence it is later asked to mine.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqmask.data.bitext import (
    Limits,
    Pair,
    clean,
    control_character,
    pivot,
    read_aligned,
    read_monolingual,
    read_tab_pairs,
    read_tatoeba,
)
from seqmask.data.compressed import TooLarge
from seqmask.data.conllu import read_conllu
from seqmask.data.rejects import Reject
from seqmask.paths import resolve_path
from seqmask.text.config import TextPrepConfig

ENGLISH = "eng"
UD_LANGUAGES = {"en": "eng", "si": "sin", "ta": "tam"}
"""ISO 639-1 prefixes of UD file names (``en_ewt-ud-test.conllu``) -> the project's ISO 639-3 codes."""
LIBREOFFICE_CODES = {"sin": "si", "tam": "ta"}
"""Project language -> the code in LibreOffice file names (``libreoffice_en-si.tsv.gz``)."""


@dataclass(frozen=True)
class Source:
    """One input of the corpus: what kind it is, its file(s), its language(s) and the split it feeds."""

    kind: str
    """``libreoffice``, ``tatoeba``, ``ud``, ``parallel`` or ``monolingual``."""
    paths: tuple[str, ...]
    languages: tuple[str, ...]
    split: str = "train"


@dataclass(frozen=True)
class Sentence:
    """A monolingual sentence and where it came from (``file:line`` or a treebank sentence id)."""

    language: str
    text: str
    origin: str


@dataclass
class SourceText:
    """What one source gave: pairs (with the split they feed), sentences and rejects."""

    source: Source
    pairs: list[Pair] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class Corpus:
    """The split corpus: training text and pairs, mining sets by split and pair name, and every reject."""

    monolingual: list[Sentence]
    parallel: list[Pair]
    mining: dict[str, dict[str, list[Pair]]]
    """``valid`` / ``test`` -> pair name (``eng-sin``, ``sin-tam``, ``tatoeba-tam-eng`` ...) -> pairs."""
    rejects: list[Reject]


def read_source(source: Source, limits: Limits) -> SourceText:
    """Read one source (a pure function: Dask maps it); a file of it whose (inflated) text passes
    ``limits.max_inflated_bytes`` leaves the whole source out, as one ``too_large`` reject."""
    try:
        return _read_source(source, limits)
    except TooLarge as err:
        return SourceText(
            source,
            rejects=[
                Reject(
                    str(err.path),
                    "too_large",
                    (
                        f"holds (inflated) more than text_prep.max_inflated_bytes = {err.cap} bytes: the whole source "
                        "is left out, lines read before the cap too (raise the cap for a file you trust)"
                    ),
                )
            ],
        )


def _read_source(source: Source, limits: Limits) -> SourceText:
    found = SourceText(source)
    if source.kind == "libreoffice":
        found.pairs, found.rejects = read_tab_pairs(Path(source.paths[0]), ENGLISH, source.languages[1], limits)
    elif source.kind == "tatoeba":
        found.pairs, found.rejects = read_tatoeba(Path(source.paths[0]), source.languages[0], limits)
    elif source.kind == "parallel":
        found.pairs, found.rejects = read_aligned(
            Path(source.paths[0]), Path(source.paths[1]), *source.languages, limits
        )
    elif source.kind == "monolingual":
        texts, found.rejects = read_monolingual(Path(source.paths[0]), source.languages[0], limits)
        found.sentences = [Sentence(source.languages[0], text, origin) for text, origin in texts]
    elif source.kind == "ud":
        found.sentences, found.rejects = _treebank_sentences(source, limits)
    else:
        raise ValueError(f"unknown text source kind {source.kind!r}")
    return found


def _treebank_sentences(source: Source, limits: Limits) -> tuple[list[Sentence], list[Reject]]:
    """The cleaned sentences of a language's UD files; one holding a control character other than tab is
    ``bad_text``."""
    sentences, rejects = [], []
    for path in source.paths:
        for sentence in read_conllu(Path(path), max_bytes=limits.max_inflated_bytes):
            origin = f"{path}#{sentence.sent_id}"
            if (control := control_character(sentence.text)) is not None:
                rejects.append(Reject(origin, "bad_text", f"control character {control}"))
            else:
                sentences.append(Sentence(source.languages[0], clean(sentence.text), origin))
    return sentences, rejects


def split_corpus(found: Sequence[SourceText], *, test_pairs: int, valid_pairs: int, seed: int) -> Corpus:
    """Held-out English strings -> valid and test mining sets; everything else that shares no sentence with them
    trains."""
    rejects = [reject for source in found for reject in source.rejects]
    libreoffice = [source.pairs for source in found if source.source.kind == "libreoffice"]
    heldout = _heldout_english(libreoffice, test_pairs + valid_pairs, seed)
    test_english, valid_english = set(heldout[:test_pairs]), set(heldout[test_pairs:])
    mining: dict[str, dict[str, list[Pair]]] = {"valid": {}, "test": {}}
    train_pairs: list[Pair] = []
    for split, english in (("test", test_english), ("valid", valid_english)):
        sides = [[pair for pair in pairs if pair.source in english] for pairs in libreoffice]
        for pairs in sides:
            mining[split][_pair_name(pairs[0])] = pairs
        for first, second in itertools.combinations(sides, 2):
            pivoted = pivot(first, second)
            mining[split][_pair_name(pivoted[0])] = pivoted
    for source in found:
        if source.source.kind == "tatoeba" or (source.source.kind == "parallel" and source.source.split == "test"):
            name = _pair_name(source.pairs[0]) if source.pairs else "-".join(source.source.languages)
            mining["test"][f"{source.source.kind}-{name}"] = source.pairs
    held = {
        _key(text)
        for sets in mining.values()
        for pairs in sets.values()
        for pair in pairs
        for text in (pair.source, pair.target)
    }
    train_sides = [[p for p in pairs if p.source not in test_english | valid_english] for pairs in libreoffice]
    train_pairs += [p for pairs in train_sides for p in pairs]
    for first, second in itertools.combinations(train_sides, 2):
        train_pairs += pivot(first, second)
    train_pairs += [p for s in found if s.source.kind == "parallel" and s.source.split == "train" for p in s.pairs]
    train_pairs = [p for p in train_pairs if _key(p.source) not in held and _key(p.target) not in held]
    sentences = [
        Sentence(p.source_language, p.source, p.origin) for p in train_pairs if p.source_language != p.target_language
    ]
    sentences += [Sentence(p.target_language, p.target, p.origin) for p in train_pairs]
    sentences += [s for source in found for s in source.sentences]
    return Corpus(_unique(s for s in sentences if _key(s.text) not in held), train_pairs, mining, rejects)


def _heldout_english(libreoffice: Sequence[Sequence[Pair]], count: int, seed: int) -> list[str]:
    """``count`` English strings translated exactly once in every LibreOffice side, in seeded hash order."""
    if not libreoffice:
        return []
    shared = None
    for pairs in libreoffice:
        counts: dict[str, int] = {}
        for pair in pairs:
            counts[pair.source] = counts.get(pair.source, 0) + 1
        once = {english for english, n in counts.items() if n == 1}
        shared = once if shared is None else shared & once
    ordered = sorted(shared, key=lambda english: hashlib.sha256(f"{seed}\0{english}".encode()).hexdigest())
    if len(ordered) < count:
        raise ValueError(
            f"expected at least {count} English strings translated once on every LibreOffice side (test_pairs + "
            f"valid_pairs), found {len(ordered)}: lower text_prep.test_pairs or text_prep.valid_pairs"
        )
    return ordered[:count]


def _pair_name(pair: Pair) -> str:
    return f"{pair.source_language}-{pair.target_language}"


def _key(text: str) -> str:
    """What makes two sentences the same one across sources."""
    return text.casefold()


def _unique(sentences: Iterable[Sentence]) -> list[Sentence]:
    """The first of identical sentences of a language."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for sentence in sentences:
        if (sentence.language, sentence.text) not in seen:
            seen.add((sentence.language, sentence.text))
            kept.append(sentence)
    return kept


def sources_of(config: TextPrepConfig) -> list[Source]:
    """Every source the config names, with paths resolved; a missing file raises ``FileNotFoundError`` naming it."""
    sources = []
    libreoffice = resolve_path(config.libreoffice_dir)
    for language in config.libreoffice_languages:
        code = LIBREOFFICE_CODES.get(language, language)
        found = [
            p
            for p in (libreoffice / f"libreoffice_en-{code}.tsv.gz", libreoffice / f"libreoffice_en-{code}.tsv")
            if p.is_file()
        ]
        if not found:
            raise FileNotFoundError(
                f"{libreoffice}: no libreoffice_en-{code}.tsv[.gz] for text_prep.libreoffice_languages {language!r}"
            )
        sources.append(Source("libreoffice", (str(found[0]),), (ENGLISH, language), "test"))
    for language in config.tatoeba_languages:
        sources.append(Source("tatoeba", (str(resolve_path(config.tatoeba_dir)),), (language, ENGLISH), "test"))
    for language, paths in sorted(_ud_files(resolve_path(config.ud_dir)).items()):
        sources.append(Source("ud", tuple(map(str, paths)), (language,)))
    for files in config.parallel:
        paths = (str(resolve_path(files.source)), str(resolve_path(files.target)))
        sources.append(Source("parallel", paths, (files.source_language, files.target_language), files.split))
    for file in config.monolingual:
        sources.append(Source("monolingual", (str(resolve_path(file.path)),), (file.language,)))
    return sources


def _ud_files(ud_dir: Path) -> dict[str, list[Path]]:
    """Language -> its UD files under ``ud_dir`` (named ``<iso-639-1>_<treebank>-ud-<split>.conllu[.gz]``)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(ud_dir.rglob("*.conllu*")):
        prefix = path.name.split("_", 1)[0]
        found.setdefault(UD_LANGUAGES.get(prefix, prefix), []).append(path)
    return found
