"""Saving and loading the motion pipeline's models: the conditioning text encoder, the evaluator and the denoiser.

Each is one checkpoint (``seqmask.training.checkpoint``: read without unpickling code)
whose metadata says what it is and what it was trained on; loading checks both, so a
denoiser trained with another mask, skeleton or text encoder is refused by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.artifacts import MODEL_FILE
from seqmask.motion.captions import WordVocabulary
from seqmask.motion.config import DenoiserConfig, EvaluatorConfig
from seqmask.motion.contrastive import embed_texts
from seqmask.motion.denoiser import MotionDenoiser
from seqmask.motion.encoders import (
    ConvGruMotionEncoder,
    ConvMotionEncoder,
    GruTextEncoder,
    TextMotionModel,
    WordBagEncoder,
)
from seqmask.motion.windows import Skeleton
from seqmask.training.checkpoint import read_checkpoint, save_checkpoint

TEXT_ENCODER, EVALUATOR, DENOISER = "motion-text-encoder", "motion-evaluator", "motion-denoiser"


def _read(path: Path, kind: str) -> dict[str, Any]:
    checkpoint = read_checkpoint(path)
    found = checkpoint.get("seqmask", {}).get("kind")
    if found != kind:
        raise ValueError(f"{path}: expected a {kind!r} checkpoint, found {found!r}")
    return checkpoint


def check_skeleton(path: Path, trained_on: dict[str, Any], skeleton: Skeleton) -> None:
    """Refuse a model trained on other features (joints, parts, rate, window)."""
    expected = skeleton.identity()
    if trained_on != expected:
        changed = [key for key in expected if trained_on.get(key) != expected[key]]
        raise ValueError(
            f"{path} was trained on another skeleton or feature layout (differs in {changed}): expected {expected}, "
            f"found {trained_on}"
        )


class SentenceEncoder:
    """The frozen text encoder the denoiser reads: the word-bag encoder trained here, or a local CLIP's text tower."""

    def __init__(
        self, *, model: TextMotionModel | None = None, vocabulary: WordVocabulary | None = None, clip: str | None = None
    ) -> None:
        self.model, self.vocabulary, self.clip = model, vocabulary, clip
        self._clip_parts: tuple[Any, Any] | None = None

    @property
    def identity(self) -> dict[str, Any]:
        """What a denoiser conditioned on this encoder records."""
        if self.clip is not None:
            return {"clip": self.clip}
        return {"vocabulary": self.vocabulary.words, "dim": self.model.text.embedding.embedding_dim}

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> Tensor:
        """``(N, E)`` embeddings."""
        if self.clip is None:
            return embed_texts(self.model, texts, self.vocabulary, torch.device("cpu"))
        if self._clip_parts is None:
            self._clip_parts = load_local_clip(self.clip)
        tokenizer, model = self._clip_parts
        tokens = tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=model.config.max_position_embeddings,
            return_tensors="pt",
        )
        output = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return torch.nn.functional.normalize(output.text_embeds, dim=-1)


def load_local_clip(path: str) -> tuple[Any, Any]:
    """The tokenizer and text tower of the Hugging Face CLIP in the local directory ``path``; never downloads (a hub id
    such as ``openai/clip-vit-base-patch32`` is refused unless it names a local directory)."""
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"CLIP text encoder {path!r}: expected a local Hugging Face model directory (only local "
            f"directories are loaded, nothing is downloaded), found no such directory"
        )
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    return (
        AutoTokenizer.from_pretrained(path, local_files_only=True),
        CLIPTextModelWithProjection.from_pretrained(path, local_files_only=True).eval(),
    )


def save_text_encoder(folder: Path, encoder: SentenceEncoder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model = encoder.model if encoder.model is not None else torch.nn.Module()
    save_checkpoint(
        folder / MODEL_FILE,
        model,
        kind=TEXT_ENCODER,
        arch="clip" if encoder.clip else "wordbag",
        identity=encoder.identity,
    )


def load_text_encoder(folder: Path, features: int) -> SentenceEncoder:
    checkpoint = _read(folder / MODEL_FILE, TEXT_ENCODER)
    identity = checkpoint["seqmask"]["identity"]
    if "clip" in identity:
        return SentenceEncoder(clip=identity["clip"])
    vocabulary = WordVocabulary(identity["vocabulary"])
    model = TextMotionModel(
        WordBagEncoder(len(vocabulary.words), identity["dim"]), ConvMotionEncoder(features, identity["dim"])
    )
    model.load_state_dict(checkpoint["model"])
    return SentenceEncoder(model=model.eval(), vocabulary=vocabulary)


def build_evaluator(config: EvaluatorConfig, vocabulary: WordVocabulary, features: int) -> TextMotionModel:
    return TextMotionModel(
        GruTextEncoder(len(vocabulary.words), config.hidden, config.dim),
        ConvGruMotionEncoder(features, config.hidden, config.dim),
    )


def save_evaluator(
    folder: Path, model: TextMotionModel, config: EvaluatorConfig, vocabulary: WordVocabulary, skeleton: Skeleton
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        folder / MODEL_FILE,
        model,
        kind=EVALUATOR,
        arch="conv-gru",
        config=dataclasses.asdict(config),
        vocabulary=vocabulary.words,
        skeleton=skeleton.identity(),
    )


def load_evaluator(folder: Path, skeleton: Skeleton) -> tuple[TextMotionModel, WordVocabulary]:
    checkpoint = _read(folder / MODEL_FILE, EVALUATOR)
    meta = checkpoint["seqmask"]
    check_skeleton(folder / MODEL_FILE, meta["skeleton"], skeleton)
    config = EvaluatorConfig(**{k: v for k, v in meta["config"].items() if k != "train"})
    vocabulary = WordVocabulary(meta["vocabulary"])
    model = build_evaluator(config, vocabulary, skeleton.features)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), vocabulary


def build_denoiser(config: DenoiserConfig, skeleton: Skeleton, text_dim: int) -> MotionDenoiser:
    return MotionDenoiser(
        features=skeleton.features,
        part_columns=skeleton.part_columns,
        text_dim=text_dim,
        hidden=config.hidden,
        layers=config.layers,
        heads=config.heads,
        ffn=config.ffn,
        dropout=config.dropout,
        max_frames=skeleton.window,
    )


@dataclass(frozen=True)
class TrainedDenoiser:
    """A denoiser with what it was trained with."""

    model: MotionDenoiser
    mask: MotionMaskParams
    diffusion_steps: int
    text: dict[str, Any]
    """The identity of the text encoder it is conditioned on."""


def save_denoiser(
    folder: Path,
    model: MotionDenoiser,
    *,
    config: DenoiserConfig,
    mask: MotionMaskParams,
    skeleton: Skeleton,
    diffusion_steps: int,
    text: dict[str, Any],
    text_dim: int,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        folder / MODEL_FILE,
        model,
        kind=DENOISER,
        arch="mdm",
        config=dataclasses.asdict(config),
        mask=dataclasses.asdict(mask),
        skeleton=skeleton.identity(),
        diffusion_steps=diffusion_steps,
        text=text,
        text_dim=text_dim,
    )


def load_denoiser(
    folder: Path, skeleton: Skeleton, *, text: dict[str, Any] | None = None, mask: MotionMaskParams | None = None
) -> TrainedDenoiser:
    """The denoiser in ``folder``; refused when it was trained on another skeleton, or (when given) another text encoder
    or mask."""
    path = folder / MODEL_FILE
    checkpoint = _read(path, DENOISER)
    meta = checkpoint["seqmask"]
    check_skeleton(path, meta["skeleton"], skeleton)
    trained_mask = MotionMaskParams(**meta["mask"])
    if mask is not None and trained_mask != mask:
        raise ValueError(f"{path} was trained with mask {trained_mask}, expected {mask}")
    if text is not None and meta["text"] != text:
        raise ValueError(
            f"{path} is conditioned on another text encoder than the one given (its vocabulary or CLIP path differs)"
        )
    model = build_denoiser(DenoiserConfig(**meta["config"]), skeleton, meta["text_dim"])
    model.load_state_dict(checkpoint["model"])
    return TrainedDenoiser(model.eval(), trained_mask, meta["diffusion_steps"], meta["text"])
