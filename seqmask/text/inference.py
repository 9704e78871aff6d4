"""Mining a user's own line-aligned files with a trained encoder (``seqmask mine``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformers import XLMRobertaForMaskedLM

from seqmask.data.bitext import Limits, Pair, read_aligned
from seqmask.data.rejects import Reject
from seqmask.store import ArtifactNotFound, ArtifactStore
from seqmask.text.artifacts import LANGUAGES, MODEL, TOKENIZER_MODEL
from seqmask.text.mining import MiningResult, check_k, mine_both_ways
from seqmask.text.model import check_layer, embed, is_encoder, load_encoder
from seqmask.text.tokenizer import XLMR_MODEL_FILE, Vocabulary
from seqmask.text.units import encode_units


@dataclass
class Encoder:
    """A saved encoder with its vocabulary and language ids."""

    model: XLMRobertaForMaskedLM
    vocabulary: Vocabulary
    languages: dict[str, int]

    def language_id(self, language: str | None, option: str) -> int:
        """The id of ``language`` (0 for a model without language embeddings); errors name the option."""
        if self.model.config.type_vocab_size <= 1:
            return 0
        if language not in self.languages:
            raise ValueError(
                f"{option}: this model has a language embedding per language; expected one of "
                f"{sorted(self.languages)}, found {language!r}"
            )
        return self.languages[language]


def resolve_encoder(spec: str, store: ArtifactStore) -> Path:
    """The model directory of a ``text-continual-*``/``text-base`` artifact key (prefix), of a directory holding
    ``model/``, or a model directory itself."""
    path = Path(spec)
    if path.is_dir():
        return path / MODEL if is_encoder(path / MODEL) else path
    try:
        key = store.resolve(spec)
    except (ArtifactNotFound, ValueError):
        raise FileNotFoundError(
            f"--model {spec}: no such directory, and no artifact key in {store.objects} starts with it"
        ) from None
    ref = store.get(key)
    if ref is None:
        raise ValueError(f"artifact {spec} does not verify; rerun the flow that makes it")
    if not is_encoder(ref.path / MODEL):
        raise ValueError(
            f"artifact {ref.key[:12]} ({ref.stage}) holds no encoder; expected a text-continual-* or text-base artifact"
        )
    return ref.path / MODEL


def load_for_mining(directory: Path) -> Encoder:
    """The encoder of a model directory with its sentencepiece model (``spm.model`` or XLM-R's) and
    ``languages.json``."""
    vocab_path = next(
        (directory / name for name in (TOKENIZER_MODEL, XLMR_MODEL_FILE) if (directory / name).is_file()), None
    )
    if vocab_path is None:
        raise FileNotFoundError(f"{directory}: expected {TOKENIZER_MODEL} or {XLMR_MODEL_FILE} beside the model")
    languages_path = directory / LANGUAGES
    names = json.loads(languages_path.read_text(encoding="utf-8")) if languages_path.is_file() else []
    return Encoder(
        load_encoder(directory), Vocabulary.load(vocab_path), {name: index for index, name in enumerate(names)}
    )


def mine_files(
    encoder: Encoder,
    source: Path,
    target: Path,
    *,
    source_language: str | None,
    target_language: str | None,
    layer: int = -1,
    k: int = 4,
    centre: bool = False,
) -> tuple[list[Pair], list[Reject], dict[str, MiningResult]]:
    """Pairs kept from two line-aligned files, the lines rejected, and mining both ways (``forward``: source -> target);
    ``layer`` and ``k`` are checked first, their errors naming ``--layer`` and ``--k``. A progress bar shows the
    embedding."""
    check_layer(encoder.model, layer, "--layer")
    check_k(k, "--k")
    pairs, rejects = read_aligned(
        source, target, source_language or "src", target_language or "tgt", Limits(min_chars=1)
    )
    if not pairs:
        raise ValueError(f"{source} and {target}: no line pair could be used ({len(rejects)} rejected)")
    ids = encoder.language_id(source_language, "--src-lang"), encoder.language_id(target_language, "--tgt-lang")
    vocab, specials = encoder.vocabulary, encoder.vocabulary.specials
    sides = []
    for texts, language, path in (
        ([p.source for p in pairs], ids[0], source),
        ([p.target for p in pairs], ids[1], target),
    ):
        encoded = [encode_units(text, [], vocab) for text in texts]
        sides.append(
            embed(encoder.model, encoded, language, specials, layer=layer, desc=f"embedding {path.name}")
        )  # (N, H)
    return pairs, rejects, mine_both_ways(sides[0], sides[1], k=k, centre=centre)
