"""wav2vec 2.0 pretraining with random or Ask2Mask span masks: the unit of the shared training loop.

Each step fairseq2's ``Wav2Vec2Model`` front end extracts features, the variant's
masker masks them (fairseq2's ``StandardWav2Vec2Masker`` for ``"random"``,
:class:`~seqmask.speech.masker.Ask2MaskMasker` for the Ask2Mask variants, given
the frame confidences the batch carries), the Transformer encodes them and the
model contrasts the encoder output at masked frames with quantized targets. The
contrastive loss is taken per utterance, so that ``"ask2mask+utt"`` can weight each
utterance by its mean scorer confidence
(:func:`~seqmask.masking.ask2mask.utterance_weights`); fairseq2's diversity loss and
features penalty are added and the total is divided by the number of targets.

The Gumbel temperature of the quantizer decays with its ``num_updates`` buffer,
which fairseq2 advances on every training-mode forward call (one per step here)
and which is saved with the model. fairseq2's random masker, dropout, distractor
and Gumbel sampling draw from the global torch RNG (seeded and checkpointed by the
loop); Ask2Mask masks draw from the unit's own generator, checkpointed with it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from fairseq2.models.wav2vec2 import Wav2Vec2Model
from fairseq2.models.wav2vec2.masker import Wav2Vec2Masker
from fairseq2.models.wav2vec2.model import Wav2Vec2Features, Wav2Vec2Output
from fairseq2.nn import BatchLayout
from torch import Tensor
from torch.nn.functional import cross_entropy

from seqmask.files import read_build_record, record_build
from seqmask.masking.ask2mask import fit_scorer_frames, utterance_weights
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.masking.spans import num_masked_spans
from seqmask.speech.archs import arch_sizes
from seqmask.speech.artifacts import MODEL
from seqmask.speech.config import MASKERS, EncoderConfig, PretrainConfig
from seqmask.speech.features import Utterance, collate, length_batches
from seqmask.speech.masker import Ask2MaskMasker
from seqmask.speech.model import build_pretrain_model, load_pretrained
from seqmask.training.checkpoint import save_checkpoint
from seqmask.training.device import default_device
from seqmask.training.loop import ProgressFn, train

log = logging.getLogger(__name__)

PRETRAINED_KIND = "wav2vec2"
"""``seqmask.kind`` of a pretrained model's ``model.pt``."""


@dataclass(frozen=True)
class PretrainLoss:
    """Loss terms of one batch, each divided by the number of targets."""

    total: Tensor
    """() the optimized objective: (weighted) contrastive + weighted diversity + weighted features penalty."""
    contrastive: Tensor
    """() fairseq2's contrastive loss, unweighted."""
    diversity: Tensor
    """() fairseq2's diversity loss, unweighted."""
    num_targets: int
    """Masked frames contrasted: ``N * S_msk``."""


def utterance_contrastive_loss(logits: Tensor) -> Tensor:
    """fairseq2's contrastive loss, per utterance: ``(N, S_msk, L)`` logits, target at index 0 -> ``(N,)`` sums."""
    batch_size, num_masked, num_candidates = logits.shape
    targets = logits.new_zeros(batch_size * num_masked, dtype=torch.int64)  # (N * S_msk,)
    frame_losses = cross_entropy(
        logits.float().reshape(-1, num_candidates), targets, reduction="none"
    )  # (N, S_msk, L) -> (N * S_msk,)
    return frame_losses.view(batch_size, num_masked).sum(dim=1)  # (N * S_msk,) -> (N, S_msk) -> (N,)


def pretrain_loss(
    model: Wav2Vec2Model, output: Wav2Vec2Output, config: PretrainConfig, weights: Tensor | None = None
) -> PretrainLoss:
    """The per-target objective of one forward pass; ``weights`` ``(N,)`` scale each utterance's contrastive loss."""
    contrastive = utterance_contrastive_loss(output.logits)  # (N, S_msk, L) -> (N,)
    weighted = contrastive if weights is None else contrastive * weights  # (N,), (N,) -> (N,)
    diversity = model.compute_diversity_loss(output.logits, output.quantizer_output.prob_perplexity)  # ()
    penalty = model.compute_features_penalty(output.logits, output.raw_features)  # ()
    total = (
        weighted.sum() + config.diversity_weight * diversity + config.features_penalty_weight * penalty
    )  # (N,) -> ()
    num_targets = output.num_targets
    return PretrainLoss(total / num_targets, contrastive.sum() / num_targets, diversity / num_targets, num_targets)


def _maskable(utterances: Sequence[Utterance], params: Ask2MaskParams) -> tuple[list[Utterance], int]:
    """The utterances fairseq2 can mask (longer than a span, room for ``min_num_spans`` spans), and the number
    dropped."""
    span_args = {
        "span_len": params.span_len,
        "max_mask_prob": params.max_mask_prob,
        "min_num_spans": params.min_num_spans,
    }
    kept = [u for u in utterances if num_masked_spans(u.encoder_frames, **span_args) > 0]
    dropped = len(utterances) - len(kept)
    if not kept:
        raise ValueError(
            f"all {len(utterances)} utterances are too short to mask with {params} "
            f"(longest: {max((u.encoder_frames for u in utterances), default=0)} encoder frames)"
        )
    if dropped:
        log.warning("dropping %d of %d utterances too short to mask with %s", dropped, len(utterances), params)
    return kept, dropped


def _fitted_scores(
    utterances: Sequence[Utterance], scores: Mapping[str, Tensor] | None, masker: str
) -> dict[str, Tensor] | None:
    """Per-utterance frame confidences ``(S,)`` brought to exactly the utterance's encoder frames; ``None`` for
    ``"random"``."""
    if masker == "random":
        return None
    if scores is None:
        raise ValueError(f"masker {masker!r} needs frame scores, got None")
    missing = [u.id for u in utterances if u.id not in scores]
    if missing:
        raise ValueError(
            f"masker {masker!r} needs scores for every utterance, missing for {len(missing)}: {missing[:10]}"
        )
    fitted = {}
    for utterance in utterances:
        try:
            fitted[utterance.id] = fit_scorer_frames(scores[utterance.id].float()[None], utterance.encoder_frames)[
                0
            ]  # (X,) -> (1, X) -> (S,)
        except ValueError as err:
            raise ValueError(f"scores of utterance {utterance.id!r} do not fit its encoder frames: {err}") from err
    return fitted


def masked_features(model: Wav2Vec2Model, seqs: Tensor, seqs_layout: BatchLayout, masker: Any) -> Wav2Vec2Features:
    """``model.extract_features`` with the masker given by the caller: ``(N, F, 80) -> (N, S, M)`` encoder output.

    The steps and their order are fairseq2 0.8's ``Wav2Vec2Model.run_frontend`` and
    ``extract_features`` (so the random draws are the same); only the masker is an
    argument, so that the frame confidences reach it from the batch.
    """
    frontend = model.encoder_frontend
    seqs, seqs_layout, raw_features = frontend.extract_features(seqs, seqs_layout)  # (N, F, 80) -> (N, S, E)
    targets = seqs.clone() if model.quantizer_encoder_grad else seqs.detach().clone()  # (N, S, E)
    if frontend.first_pass_dropout is not None:
        targets = frontend.first_pass_dropout(targets)
    seqs, temporal_mask = frontend.process_features(seqs, seqs_layout, masker)  # (N, S, E) -> (N, S, M), (N, S)
    targets = Wav2Vec2Masker.extract_masked_elements(targets, temporal_mask)  # (N, S, E) -> (N, S_msk, E)
    features = Wav2Vec2Features(seqs, seqs_layout, targets, temporal_mask, raw_features)
    features.seqs = model.encoder(features.seqs, features.seqs_layout)  # (N, S, M) -> (N, S, M)
    return features


class PretrainUnit:
    """wav2vec 2.0 pretraining of one masking variant on ``utterances`` (with frame ``scores`` for Ask2Mask)."""

    def __init__(
        self,
        config: PretrainConfig,
        encoder: EncoderConfig,
        variant: str,
        utterances: Sequence[Utterance],
        scores: Mapping[str, Tensor] | None,
        device: torch.device,
    ) -> None:
        self.config, self.encoder, self.variant, self.utterances, self.scores = (
            config,
            encoder,
            variant,
            utterances,
            scores,
        )
        self.device = device
        self.mask_generator = torch.Generator(device=device).manual_seed(
            config.train.seed + 1
        )  # independent of batch order
        self.frames = 0
        """Filterbank frames (unpadded) of the batches trained on."""
        masker = None
        if variant != "random":
            masker = Ask2MaskMasker(arch_sizes(encoder.arch).model_dim, config.mask, generator=self.mask_generator)
        model_kwargs = model_settings(config) | {"masker": masker}
        if config.init_checkpoint is None:
            model = build_pretrain_model(encoder, **model_kwargs)
        else:
            model = load_pretrained(Path(config.init_checkpoint), encoder, **model_kwargs)
            log.info("continuing pretraining from %s", config.init_checkpoint)
        if masker is None:
            model.masker.min_num_temporal_mask_spans = (
                config.mask.min_num_spans
            )  # build_pretrain_model keeps fairseq2's default
        self.model: Wav2Vec2Model = model.to(device)

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
        """The per-target objective; logs fairseq2's (unweighted) contrastive and diversity losses."""
        speech = collate([self.utterances[i] for i in batch], self.scores).to(self.device)
        self.frames += sum(speech.feat_lens)
        layout = BatchLayout.of(speech.feats, speech.feat_lens)
        masker = (
            self.model.masker if speech.scores is None else functools.partial(self.model.masker, scores=speech.scores)
        )
        weights = None
        if self.variant == "ask2mask+utt":
            encoder_lens = torch.tensor(speech.encoder_lens, device=self.device)  # (N,)
            weights = utterance_weights(speech.scores, encoder_lens)  # (N, S), (N,) -> (N,)
        features = masked_features(self.model, speech.feats, layout, masker)  # (N, F, 80) -> (N, S, M)
        output = self.model.quantize_and_contrast(features)  # (N, S, M) -> logits (N, S_msk, L)
        loss = pretrain_loss(self.model, output, self.config, weights)
        return loss.total, {"contrastive": loss.contrastive.item(), "diversity": loss.diversity.item()}

    def identity(self) -> dict[str, Any]:
        return {
            "config": dataclasses.asdict(self.config),
            "encoder": dataclasses.asdict(self.encoder),
            "variant": self.variant,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"mask_generator": self.mask_generator.get_state(), "frames": self.frames}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mask_generator.set_state(state["mask_generator"])
        self.frames = state["frames"]


def model_settings(config: PretrainConfig) -> dict[str, Any]:
    """What the pretraining model's fairseq2 config takes from ``config``: span rule, distractors, and the Gumbel
    temperature decayed geometrically from its start to its end over ``train.steps``."""
    start, end = config.gumbel_temperature
    decay = (end / start) ** (1 / config.train.steps)
    return {
        "span_len": config.mask.span_len,
        "max_mask_prob": config.mask.max_mask_prob,
        "num_distractors": config.num_distractors,
        "temperature": (start, end, decay),
    }


def pretrain(
    config: PretrainConfig,
    encoder: EncoderConfig,
    variant: str,
    utterances: Sequence[Utterance],
    scores: Mapping[str, Tensor] | None,
    *,
    out_dir: Path,
    work_dir: Path,
    device: torch.device | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Pretrain a wav2vec 2.0 model with ``variant``'s masker; write ``out_dir/model.pt`` and ``metrics.jsonl``.

    ``scores`` maps utterance id -> ``(S,)`` frame confidences at the encoder frame
    rate (needed by the Ask2Mask maskers, ignored by ``"random"``). Utterances too
    short to mask are dropped (``dropped_short``). Resumes from ``work_dir/last.pt``.
    The summary adds ``utterances`` (trained on) to the loop's, and the build record ``frames_per_second`` (unpadded
    10 ms filterbank frames per training second).
    """
    if variant not in MASKERS:
        raise ValueError(f"variant: expected one of {MASKERS}, found {variant!r}")
    device = device or default_device()
    kept, dropped = _maskable(utterances, config.mask)
    fitted = _fitted_scores(kept, scores, variant)
    unit, summary = train(
        lambda: PretrainUnit(config, encoder, variant, kept, fitted, device),
        config.train,
        out_dir=out_dir,
        work_dir=work_dir,
        device=device,
        progress=progress,
        desc=f"pretraining ({variant})",
    )
    save_checkpoint(
        out_dir / MODEL,
        unit.model,
        kind=PRETRAINED_KIND,
        arch=encoder.arch,
        encoder=dataclasses.asdict(encoder),
        masker=variant,
        steps=summary["steps"],
    )
    seconds = read_build_record(out_dir)["train_seconds"]
    record_build(out_dir, frames_per_second=round(unit.frames / seconds, 1) if seconds else 0.0)
    summary |= {"dropped_short": dropped, "utterances": len(kept)}
    log.info("pretraining done: %s", summary)
    return summary
