"""CTC training of a wav2vec 2.0 encoder: the scorer from scratch, and fine-tuning from a pretrained encoder.

:class:`CtcUnit` is the unit of the shared training loop (:mod:`seqmask.training.loop`):
its loss is the summed CTC loss of a batch divided by its number of target units.
fairseq2's feature masking regularises training, except on batches too short for
its span rule, which train unmasked (fairseq2 would raise: short utterances such as
spoken digits are common). Utterances CTC cannot align (more units than encoder
frames) are left out and counted.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from fairseq2.models.wav2vec2 import Wav2Vec2Model
from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrModel
from fairseq2.nn import BatchLayout
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from seqmask.speech.artifacts import MODEL
from seqmask.speech.config import CtcConfig, EncoderConfig
from seqmask.speech.features import Utterance, collate, length_batches
from seqmask.speech.model import build_asr_model, transfer_encoder
from seqmask.speech.vocab import Vocabulary
from seqmask.training.checkpoint import save_checkpoint
from seqmask.training.device import default_device
from seqmask.training.loop import ProgressFn, train

log = logging.getLogger(__name__)

CTC_KIND = "wav2vec2_asr"
"""``seqmask.kind`` of a trained CTC model's ``model.pt``."""


class CtcUnit:
    """A wav2vec 2.0 CTC model over ``vocab``, trained on ``utterances`` with unit ids ``targets``."""

    def __init__(
        self,
        config: CtcConfig,
        encoder: EncoderConfig,
        vocab: Vocabulary,
        utterances: Sequence[Utterance],
        targets: Sequence[list[int]],
        *,
        init_encoder: Wav2Vec2Model | None,
        freeze_encoder_steps: int,
        device: torch.device,
    ) -> None:
        self.config, self.encoder, self.vocab, self.utterances, self.targets = (
            config,
            encoder,
            vocab,
            utterances,
            targets,
        )
        self.freeze_encoder_steps, self.device = freeze_encoder_steps, device
        model = build_asr_model(encoder, len(vocab.tokens), config)
        if init_encoder is not None:
            transfer_encoder(init_encoder, model)
        self.model: Wav2Vec2AsrModel = model.to(device)

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        lengths = [u.feats.shape[0] for u in self.utterances]
        return length_batches(
            lengths,
            max_frames=self.config.max_frames,
            max_size=self.config.max_batch_size,
            generator=generator,
            shuffle=True,
        )

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        """CTC loss per target unit; the encoder trains only after ``freeze_encoder_steps``."""
        trainable = step > self.freeze_encoder_steps
        self.model.encoder_frontend.requires_grad_(trainable)  # the masker and the CTC head always train
        self.model.encoder.requires_grad_(trainable)
        speech = collate([self.utterances[i] for i in batch]).to(self.device)
        targets = [self.targets[i] for i in batch]
        padded = pad_sequence([torch.tensor(t) for t in targets], batch_first=True).to(
            self.device
        )  # N x (L_i,) -> (N, L)
        summed = self.model(
            speech.feats,
            BatchLayout.of(speech.feats, speech.feat_lens),
            padded,
            BatchLayout.of(padded, [len(t) for t in targets]),
        )  # (N, F, 80), (N, L) -> ()
        return summed / sum(map(len, targets)), {}  # () -> ()

    def identity(self) -> dict[str, Any]:
        model = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(CtcConfig) if f.name != "train"}
        return {
            "model": {name: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for name, v in model.items()},
            "encoder": dataclasses.asdict(self.encoder),
            "vocab": self.vocab.to_dict(),
            "freeze_encoder_steps": self.freeze_encoder_steps,
        }

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def train_ctc(
    config: CtcConfig,
    encoder: EncoderConfig,
    train_set: Sequence[Utterance],
    vocab: Vocabulary,
    *,
    out_dir: Path,
    work_dir: Path,
    init_encoder: Wav2Vec2Model | None = None,
    freeze_encoder_steps: int = 0,
    device: torch.device | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Train a CTC model on ``train_set``; write ``out_dir/model.pt`` and ``out_dir/metrics.jsonl``; return a summary.

    The encoder is copied from ``init_encoder`` when given, else trained from
    scratch. Utterances without text raise ``ValueError``; those CTC cannot align
    are skipped and counted (``skipped_too_long``). Resumes from ``work_dir/last.pt``.
    """
    device = device or default_device()
    utterances, targets, skipped = _ctc_examples(train_set, vocab)
    unit, summary = train(
        lambda: CtcUnit(
            config,
            encoder,
            vocab,
            utterances,
            targets,
            init_encoder=init_encoder,
            freeze_encoder_steps=freeze_encoder_steps,
            device=device,
        ),
        config.train,
        out_dir=out_dir,
        work_dir=work_dir,
        device=device,
        progress=progress,
        desc="CTC training",
    )
    save_checkpoint(
        out_dir / MODEL,
        unit.model,
        kind=CTC_KIND,
        arch=encoder.arch,
        encoder=dataclasses.asdict(encoder),
        vocab=vocab.to_dict(),
        steps=summary["steps"],
    )
    return {**summary, "skipped_too_long": skipped}


def ctc_frames_needed(target: Sequence[int]) -> int:
    """Fewest frames CTC can align ``target`` to: one per unit plus a blank between repeated units."""
    repeats = sum(1 for a, b in zip(target, target[1:]) if a == b)
    return len(target) + repeats


def _ctc_examples(train: Sequence[Utterance], vocab: Vocabulary) -> tuple[list[Utterance], list[list[int]], int]:
    """The utterances CTC can align, their unit ids and the number skipped as too long for their frames."""
    if not train:
        raise ValueError("expected at least one training utterance, found none")
    encoded = [vocab.encode(u.text or "") for u in train]
    missing = [u.id for u, target in zip(train, encoded) if not target]
    if missing:
        raise ValueError(
            f"expected a transcript with letters or digits for every training utterance, {len(missing)} have none: "
            f"{missing[:10]}"
        )
    kept = [(u, target) for u, target in zip(train, encoded) if ctc_frames_needed(target) <= u.encoder_frames]
    skipped = len(train) - len(kept)
    if not kept:
        raise ValueError(
            f"all {len(train)} training utterances have more target units than encoder frames, expected some CTC can "
            "align"
        )
    if skipped:
        log.warning("skipping %d of %d utterances: more target units than encoder frames", skipped, len(train))
    return [u for u, _ in kept], [target for _, target in kept], skipped
