"""Config sections of the text (LEM) pipeline: data prep, tokenizer, taggers, the XLM-R encoder, its training and mining
(no torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqmask.schema import PATH, require
from seqmask.training.config import TrainingConfig

STRATEGIES = ("mlm", "lem")
"""Continual-pretraining masking strategies: plain MLM+TLM (the baseline) and LEM-MLM+LEM-TLM."""
BASELINE = "mlm"
"""The strategy LEM is compared against."""
BASE_ONLY = "base"
"""The row of the from-scratch base encoder without continual pretraining."""
UNTRAINED = "untrained"
"""The row of the base encoder's random initialisation."""
NGRAMS = "char n-grams"
"""The row of the character n-gram TF-IDF floor."""
UNIT_MODES = ("span", "word")
"""LEM's masking units: one per named-entity span (the paper) or one per word (the authors' code)."""


@dataclass(frozen=True, kw_only=True)
class ParallelFiles:
    """Two line-aligned files of a user: line ``i`` of one translates line ``i`` of the other."""

    source: str = field(default="", metadata=PATH)
    """One sentence a line, in ``source_language``."""
    target: str = field(default="", metadata=PATH)
    """One sentence a line, in ``target_language``."""
    source_language: str = ""
    target_language: str = ""
    split: str = "train"
    """``train`` (TLM and MLM text) or ``test`` (mined, kept out of all pretraining text)."""

    def validate(self) -> None:
        for name in ("source", "target", "source_language", "target_language"):
            require(bool(getattr(self, name)), name, "a value", getattr(self, name))
        require(self.split in ("train", "test"), "split", "train or test", self.split)
        require(
            self.source_language != self.target_language,
            "target_language",
            "a language other than source_language",
            self.target_language,
        )


@dataclass(frozen=True, kw_only=True)
class MonolingualFile:
    """A user's monolingual text: one sentence a line."""

    path: str = field(default="", metadata=PATH)
    language: str = ""

    def validate(self) -> None:
        require(bool(self.path), "path", "a file", self.path)
        require(bool(self.language), "language", "a language code", self.language)


@dataclass(frozen=True, kw_only=True)
class TextPrepConfig:
    """Text data preparation: corpora to cleaned, deduplicated sentences and pairs with splits that keep every
    mining test pair out of all pretraining text."""

    libreoffice_dir: str = field(default="data/text/libreoffice", metadata=PATH)
    """LibreOffice interface strings, ``libreoffice_en-<xx>.tsv.gz`` (``english<TAB>translation``)."""
    libreoffice_languages: tuple[str, ...] = ("sin", "tam")
    """Languages paired with English there; with two, their pivot through identical English is a third pair."""
    tatoeba_dir: str = field(default="data/text/tatoeba", metadata=PATH)
    """LASER's Tatoeba test pairs ``tatoeba.<xxx>-eng.<side>.gz``."""
    tatoeba_languages: tuple[str, ...] = ("tam",)
    """Tatoeba pairs mined as extra test sets (reported, not gated); their sentences never reach pretraining."""
    ud_dir: str = field(default="data/text/ud", metadata=PATH)
    """UD treebanks whose sentences join the monolingual text (and train the taggers)."""
    parallel: tuple[ParallelFiles, ...] = ()
    """A user's parallel files."""
    monolingual: tuple[MonolingualFile, ...] = ()
    """A user's monolingual files."""
    test_pairs: int = 500
    """Held-out English strings (translated on every LibreOffice side) per test split."""
    valid_pairs: int = 200
    """Held-out English strings for the validation split (settings are chosen on it)."""
    min_chars: int = 3
    """Shorter sentences are rejected (``too_short``)."""
    max_chars: int = 400
    """Longer sentences, as read or once cleaned, are rejected (``too_long``); a longer line is never read whole."""
    max_inflated_bytes: int = 1 << 30
    """A ``.gz`` text file inflating to more bytes is left out whole (``too_large``): a gzip bomb is refused, not
    inflated."""
    seed: int = 0
    """Seed of the held-out selection."""

    def validate(self) -> None:
        languages = self.libreoffice_languages
        require(
            len(set(languages)) == len(languages) and all(languages),
            "libreoffice_languages",
            "distinct language codes",
            list(languages),
        )
        require(all(self.tatoeba_languages), "tatoeba_languages", "language codes", list(self.tatoeba_languages))
        require(self.test_pairs >= 1, "test_pairs", ">= 1", self.test_pairs)
        require(self.valid_pairs >= 1, "valid_pairs", ">= 1", self.valid_pairs)
        require(self.min_chars >= 1, "min_chars", ">= 1", self.min_chars)
        require(self.max_chars > self.min_chars, "max_chars", f"> min_chars = {self.min_chars}", self.max_chars)
        require(self.max_inflated_bytes >= 1, "max_inflated_bytes", ">= 1", self.max_inflated_bytes)
        require(self.seed >= 0, "seed", ">= 0", self.seed)


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """A sentencepiece unigram model over the monolingual text of every language, or a user's own."""

    model: str | None = field(default=None, metadata=PATH)
    """A sentencepiece ``.model`` to use instead of training one (it must define ``<s>``, ``<pad>``, ``</s>``)."""
    vocab_size: int = 8000
    """Pieces of a trained model (fewer when the text cannot support that many)."""
    max_unknown_rate: float = 0.01
    """Share of unknown pieces in a language's text above which the stage warns loudly (a script the model lacks)."""

    def validate(self) -> None:
        require(self.vocab_size >= 100, "vocab_size", ">= 100", self.vocab_size)
        require(0 <= self.max_unknown_rate < 1, "max_unknown_rate", "in [0, 1)", self.max_unknown_rate)


@dataclass(frozen=True, kw_only=True)
class TaggerSource:
    """Where one language's word tags come from: an installed spaCy pipeline, or a UD treebank to train a tagger on."""

    language: str = ""
    pipeline: str | None = None
    """An installed spaCy pipeline name or a local pipeline directory (its NER, if any, gives the entities)."""
    treebank: str | None = field(default=None, metadata=PATH)
    """A UD treebank (a ``.conllu[.gz]`` file or a directory of them) to train a tagger from when ``pipeline`` is None;
    entities are then runs of PROPN."""

    def validate(self) -> None:
        require(bool(self.language), "language", "a language code", self.language)


@dataclass(frozen=True, kw_only=True)
class TagConfig:
    """Word tags (named entity, noun, verb, other) from spaCy, per language."""

    taggers: tuple[TaggerSource, ...] = (
        TaggerSource(language="eng", treebank="data/text/ud/UD_English-EWT"),
        TaggerSource(language="sin", treebank="data/text/ud/UD_Sinhala-STB"),
        TaggerSource(language="tam", treebank="data/text/ud/UD_Tamil-MWTT"),
    )
    """One per language of the text; a language with neither a pipeline nor a treebank is an error."""
    tagger_steps: int = 600
    """Training steps of a tagger trained here."""
    heldout_share: float = 0.1
    """Share of a treebank's sentences held out to measure its tagger's accuracy."""
    sentences_per_task: int = 1000
    """Sentences tagged per Dask task."""

    def source(self, language: str) -> TaggerSource | None:
        """The tagger source of ``language``, if configured."""
        return next((tagger for tagger in self.taggers if tagger.language == language), None)

    def validate(self) -> None:
        languages = [tagger.language for tagger in self.taggers]
        require(len(set(languages)) == len(languages), "taggers", "one entry per language", languages)
        require(self.tagger_steps >= 1, "tagger_steps", ">= 1", self.tagger_steps)
        require(0 < self.heldout_share < 1, "heldout_share", "in (0, 1)", self.heldout_share)
        require(self.sentences_per_task >= 1, "sentences_per_task", ">= 1", self.sentences_per_task)


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """An XLM-R architecture encoder (``transformers.XLMRobertaForMaskedLM``)."""

    layers: int = 2
    hidden: int = 128
    heads: int = 4
    ffn: int = 512
    """Feed-forward width."""
    max_len: int = 128
    """Tokens per row at most (a TLM row holds both sentences); longer sentences are cut and counted."""
    dropout: float = 0.1
    language_embeddings: bool = False
    """A learned embedding per language added to every token (XLM's language ids); False: none, as XLM-R (on valid, TLM
    aligned the languages faster without them)."""

    def validate(self) -> None:
        require(self.layers >= 1, "layers", ">= 1", self.layers)
        require(self.heads >= 1, "heads", ">= 1", self.heads)
        require(
            self.hidden >= 8 and self.hidden % self.heads == 0,
            "hidden",
            f">= 8 and a multiple of heads = {self.heads}",
            self.hidden,
        )
        require(self.ffn >= 1, "ffn", ">= 1", self.ffn)
        require(self.max_len >= 8, "max_len", ">= 8", self.max_len)
        require(0 <= self.dropout < 1, "dropout", "in [0, 1)", self.dropout)


@dataclass(frozen=True, kw_only=True)
class BaseConfig:
    """The encoder continual pretraining starts from: trained here from scratch with plain MLM, or a local
    Hugging Face XLM-R directory (the paper's setting)."""

    init_from: str | None = field(default=None, metadata=PATH)
    """A local directory of ``XLMRobertaForMaskedLM`` (``config.json`` and weights, with its
    ``sentencepiece.bpe.model``); None trains ``encoder`` from scratch."""
    batch_size: int = 64
    """Sentences per batch."""
    train: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=1000, lr=1e-3, warmup_steps=100))
    """Plain MLM on the monolingual text (ignored with ``init_from``)."""

    def validate(self) -> None:
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)


@dataclass(frozen=True, kw_only=True)
class MineConfig:
    """Sentence embeddings and bitext mining."""

    layer: int = 1
    """Hidden layer whose token states are mean-pooled (``-1``: the last; ``0``: the embeddings); 1 is the middle of the
    2-layer ``small`` encoder, better than the last on valid."""
    k: int = 4
    """Neighbours in the ratio margin."""
    centre: bool = True
    """Subtract each language's mean embedding before scoring (the gate reads this scoring; both are reported)."""

    def validate(self) -> None:
        require(self.layer >= -1, "layer", ">= -1 (-1: the last layer)", self.layer)
        require(self.k >= 1, "k", ">= 1", self.k)


@dataclass(frozen=True, kw_only=True)
class TextGates:
    """When a comparison of strategies means something (the baseline has learned)."""

    min_gain: float = 8.0
    """MLM+TLM's xSIM error must be lower than its untrained init's by at least this many points in every direction of
    every gated test pair."""
    gated_pairs: tuple[str, ...] = ("eng-sin", "eng-tam")
    """The test pairs the gates read."""
    min_mlm_accuracy: float = 0.15
    """MLM+TLM's held-out masked-token accuracy must exceed this."""

    def validate(self) -> None:
        require(self.min_gain >= 0, "min_gain", ">= 0", self.min_gain)
        require(bool(self.gated_pairs), "gated_pairs", "at least one test pair", list(self.gated_pairs))
        require(0 <= self.min_mlm_accuracy < 1, "min_mlm_accuracy", "in [0, 1)", self.min_mlm_accuracy)
