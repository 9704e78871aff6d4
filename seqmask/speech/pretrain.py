"""wav2vec 2.0 pretraining with random or Ask2Mask span masks.

One optimizer step per batch: fairseq2's ``Wav2Vec2Model`` extracts features,
masks them (fairseq2's ``StandardWav2Vec2Masker`` for ``"random"``,
:class:`~seqmask.masking.ask2mask.Ask2MaskMasker` for the Ask2Mask variants) and
contrasts the encoder output at masked frames with quantized targets. The
contrastive loss is taken per utterance, so that ``"ask2mask+utt"`` can weight
each utterance by its mean scorer confidence
(:func:`~seqmask.masking.ask2mask.utterance_weights`); fairseq2's diversity loss
and features penalty are added and the total is divided by the number of targets.

AdamW with linear warm-up and linear decay, gradient clipping, steps with a
non-finite loss or gradient norm skipped (:class:`NanLossError` past a limit).
The Gumbel temperature of the quantizer decays with its ``num_updates`` buffer,
which fairseq2 advances on every training-mode forward call (one per step here),
and which is saved with the model.

A run checkpoints ``last.pt`` (model, optimizer, scheduler, random states,
progress) and resumes from it: with the same seed, a resumed run ends with the
same weights as an uninterrupted one. fairseq2's random masker, dropout,
distractor and Gumbel sampling draw from the global torch RNG (seeded from
``PretrainConfig.seed`` and saved in checkpoints); batch order and Ask2Mask masks
have their own generators.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from fairseq2.models.wav2vec2 import Wav2Vec2Model
from fairseq2.models.wav2vec2.model import Wav2Vec2Output
from fairseq2.nn import BatchLayout
from fairseq2.optim.lr_schedulers import PolynomialDecayLR
from torch import Tensor
from torch.nn.functional import cross_entropy
from torch.optim import AdamW

from seqmask.masking.ask2mask import (
    Ask2MaskMasker,
    Ask2MaskParams,
    fit_scorer_frames,
    utterance_weights,
)
from seqmask.masking.spans import num_masked_spans
from seqmask.speech.features import SpeechBatch, Utterance, collate, length_batches
from seqmask.speech.metrics_log import append_metrics, truncate_metrics
from seqmask.speech.model import (
    ARCHS,
    build_pretrain_model,
    load_pretrained,
    read_checkpoint,
    save_checkpoint,
)
from seqmask.speech.rng import set_torch_rng_state, torch_rng_state

log = logging.getLogger(__name__)

MASKERS = ("random", "ask2mask", "ask2mask+utt")
STATE_KIND = "wav2vec2_pretrain_state"
"""``seqmask.kind`` of the resumable training state ``last.pt``."""


@dataclass(frozen=True, kw_only=True)
class PretrainConfig:
    """wav2vec 2.0 pretraining of one masking variant."""

    arch: str = "small"
    """Architecture name, a key of ``seqmask.speech.model.ARCHS``."""
    masker: str = "ask2mask+utt"
    """``"random"`` (fairseq2's span masks), ``"ask2mask"`` (confident frames) or ``"ask2mask+utt"`` (also utterance weights)."""
    mask: Ask2MaskParams = field(default_factory=Ask2MaskParams)
    """Span masking parameters; ``span_len``, ``max_mask_prob`` and ``min_num_spans`` also configure ``"random"``."""
    steps: int = 1500
    """Optimizer steps to train for."""
    lr: float = 5e-4
    """Peak learning rate."""
    warmup_steps: int = 150
    """Steps of linear warm-up; the learning rate then decays linearly to 0 at ``steps``."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    clip_norm: float = 5.0
    """Gradient norm clipping threshold."""
    max_frames: int = 12000
    """Padded filterbank frames per batch."""
    max_batch_size: int = 16
    """Utterances per batch at most."""
    seed: int = 0
    """Seed of model initialisation, dropout, batch order and masks."""
    checkpoint_every: int = 100
    """Steps between resumable checkpoints (``last.pt``)."""
    max_nan_steps: int = 10
    """Steps with a non-finite loss or gradient norm skipped before the run fails."""
    diversity_weight: float = 0.1
    """Weight of fairseq2's codebook diversity loss."""
    features_penalty_weight: float = 0.0
    """Weight of fairseq2's L2 penalty on the front-end features (10 for the waveform CNN; with the
    filterbank front end the penalised features are the fixed inputs, so it only offsets the loss)."""
    init_checkpoint: str | None = field(default=None, metadata={"path": True})  # seqmask.config.PATH
    """Local fairseq2/fairseq wav2vec2 checkpoint to continue pretraining from; ``None``: random initialisation."""
    log_every: int = 10
    """Steps between lines of ``metrics.jsonl``."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        _require(self.arch in ARCHS, "arch", f"one of {sorted(ARCHS)}", self.arch)
        _require(self.masker in MASKERS, "masker", f"one of {MASKERS}", self.masker)
        try:
            self.mask.validate()
        except ValueError as err:
            raise ValueError(f"mask.{err}") from err
        _require(self.steps >= 1, "steps", ">= 1", self.steps)
        _require(self.lr > 0, "lr", "> 0", self.lr)
        _require(0 <= self.warmup_steps < self.steps, "warmup_steps", f"in [0, steps={self.steps})", self.warmup_steps)
        _require(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        _require(self.clip_norm > 0, "clip_norm", "> 0", self.clip_norm)
        _require(self.max_frames >= 1, "max_frames", ">= 1", self.max_frames)
        _require(self.max_batch_size >= 1, "max_batch_size", ">= 1", self.max_batch_size)
        _require(self.checkpoint_every >= 1, "checkpoint_every", ">= 1", self.checkpoint_every)
        _require(self.max_nan_steps >= 0, "max_nan_steps", ">= 0", self.max_nan_steps)
        _require(self.diversity_weight >= 0, "diversity_weight", ">= 0", self.diversity_weight)
        _require(self.features_penalty_weight >= 0, "features_penalty_weight", ">= 0", self.features_penalty_weight)
        _require(self.log_every >= 1, "log_every", ">= 1", self.log_every)
        _require(self.seed >= 0, "seed", ">= 0", self.seed)


def _require(ok: bool, name: str, expected: str, found: Any) -> None:
    if not ok:
        raise ValueError(f"{name}: expected {expected}, found {found!r}")


class NanLossError(RuntimeError):
    """More steps than ``max_nan_steps`` had a non-finite loss or gradient norm."""


# --- loss -------------------------------------------------------------------------------


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
    frame_losses = cross_entropy(logits.float().reshape(-1, num_candidates), targets, reduction="none")  # (N, S_msk, L) -> (N * S_msk,)
    return frame_losses.view(batch_size, num_masked).sum(dim=1)  # (N * S_msk,) -> (N, S_msk) -> (N,)


def pretrain_loss(
    model: Wav2Vec2Model, output: Wav2Vec2Output, config: PretrainConfig, weights: Tensor | None = None
) -> PretrainLoss:
    """The per-target objective of one forward pass; ``weights`` ``(N,)`` scale each utterance's contrastive loss."""
    contrastive = utterance_contrastive_loss(output.logits)  # (N, S_msk, L) -> (N,)
    weighted = contrastive if weights is None else contrastive * weights  # (N,), (N,) -> (N,)
    diversity = model.compute_diversity_loss(output.logits, output.quantizer_output.prob_perplexity)  # ()
    penalty = model.compute_features_penalty(output.logits, output.raw_features)  # ()
    total = weighted.sum() + config.diversity_weight * diversity + config.features_penalty_weight * penalty  # (N,) -> ()
    num_targets = output.num_targets
    return PretrainLoss(total / num_targets, contrastive.sum() / num_targets, diversity / num_targets, num_targets)


# --- data -------------------------------------------------------------------------------


def _maskable(utterances: Sequence[Utterance], params: Ask2MaskParams) -> tuple[list[Utterance], int]:
    """The utterances fairseq2 can mask (longer than a span, room for ``min_num_spans`` spans), and the number dropped."""
    span_args = {"span_len": params.span_len, "max_mask_prob": params.max_mask_prob, "min_num_spans": params.min_num_spans}
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


def _fitted_scores(utterances: Sequence[Utterance], scores: Mapping[str, Tensor] | None, masker: str) -> dict[str, Tensor] | None:
    """Per-utterance frame confidences ``(S,)`` brought to exactly the utterance's encoder frames; ``None`` for ``"random"``."""
    if masker == "random":
        return None
    if scores is None:
        raise ValueError(f"masker {masker!r} needs frame scores, got None")
    missing = [u.id for u in utterances if u.id not in scores]
    if missing:
        raise ValueError(f"masker {masker!r} needs scores for every utterance, missing for {len(missing)}: {missing[:10]}")
    fitted = {}
    for utterance in utterances:
        try:
            fitted[utterance.id] = fit_scorer_frames(scores[utterance.id].float()[None], utterance.encoder_frames)[0]  # (X,) -> (1, X) -> (S,)
        except ValueError as err:
            raise ValueError(f"scores of utterance {utterance.id!r} do not fit its encoder frames: {err}") from err
    return fitted


def _batch_scores(ids: Sequence[str], scores: Mapping[str, Tensor], device: torch.device) -> Tensor:
    """Zero-padded frame confidences of a batch: N x (S_i,) -> (N, S)."""
    rows = [scores[i] for i in ids]
    padded = torch.zeros(len(rows), max(row.numel() for row in rows))  # (N, S)
    for index, row in enumerate(rows):
        padded[index, : row.numel()] = row  # (S_i,) -> (N, S)
    return padded.to(device)  # (N, S)


# --- training -----------------------------------------------------------------------------


@dataclass
class _Progress:
    """Where a run stands; saved in ``last.pt``."""

    step: int = 0
    skipped_nan: int = 0
    losses: list[float] = field(default_factory=list)
    """Per-target loss of every optimizer step."""
    frames: int = 0
    """Filterbank frames (unpadded) of the batches trained on."""
    seconds: float = 0.0
    """Training time over all sessions of the run."""
    pending: list[list[int]] = field(default_factory=list)
    """Batches (utterance indices) of the current epoch not trained on yet."""


def _build_model(config: PretrainConfig, mask_generator: torch.Generator) -> tuple[Wav2Vec2Model, Ask2MaskMasker | None]:
    """The model to train (from ``init_checkpoint`` when set) and its Ask2Mask masker, if any."""
    masker = None
    if config.masker != "random":
        masker = Ask2MaskMasker(ARCHS[config.arch].model_dim, config.mask, generator=mask_generator)
    model_kwargs = {"span_len": config.mask.span_len, "max_mask_prob": config.mask.max_mask_prob, "masker": masker}
    if config.init_checkpoint is None:
        model = build_pretrain_model(config.arch, **model_kwargs)
    else:
        model = load_pretrained(Path(config.init_checkpoint), config.arch, **model_kwargs)
        log.info("continuing pretraining from %s", config.init_checkpoint)
    if masker is None:
        model.masker.min_num_temporal_mask_spans = config.mask.min_num_spans  # build_pretrain_model keeps fairseq2's default
    return model, masker


class Trainer:
    """Model, optimizer, schedule, random generators and progress of one run."""

    def __init__(self, config: PretrainConfig, utterances: Sequence[Utterance], scores: dict[str, Tensor] | None, device: torch.device) -> None:
        torch.manual_seed(config.seed)
        self.config, self.utterances, self.scores, self.device = config, utterances, scores, device
        self.batch_generator = torch.Generator().manual_seed(config.seed)
        self.mask_generator = torch.Generator(device=device).manual_seed(config.seed + 1)  # independent of batch order
        model, self.masker = _build_model(config, self.mask_generator)
        self.model = model.to(device).train()
        self.optimizer = AdamW(self.model.parameters(), lr=config.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=config.weight_decay)
        self.scheduler = PolynomialDecayLR(self.optimizer, config.steps, config.warmup_steps)  # linear warm-up and decay
        self.progress = _Progress()

    # checkpoints

    def save(self, path: Path) -> None:
        """Write the resumable state to ``path`` atomically."""
        save_checkpoint(
            path, self.model, kind=STATE_KIND, arch=self.config.arch, config=dataclasses.asdict(self.config),
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            progress=dataclasses.asdict(self.progress), rng=self._rng_states(),
        )

    def resume(self, path: Path) -> None:
        """Continue from the state ``save`` wrote to ``path``; it must come from the same config."""
        checkpoint = read_checkpoint(path)
        meta = checkpoint.get("seqmask", {}) if isinstance(checkpoint, dict) else {}
        if meta.get("kind") != STATE_KIND:
            raise ValueError(f"{path} is not a pretraining state: expected seqmask.kind {STATE_KIND!r}, found {meta.get('kind')!r}")
        current = dataclasses.asdict(self.config)
        changed = sorted(key for key in current if meta["config"].get(key) != current[key])
        if changed:
            raise ValueError(f"{path} was written with a different config: fields {changed} differ; remove it to start over")
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(meta["optimizer"])
        self.scheduler.load_state_dict(meta["scheduler"])
        self.progress = _Progress(**meta["progress"])
        self._set_rng_states(meta["rng"])
        log.info("resuming pretraining from %s at step %d of %d", path, self.progress.step, self.config.steps)

    def _rng_states(self) -> dict[str, Any]:
        return {
            "torch": torch_rng_state(),
            "batch": self.batch_generator.get_state(),
            "mask": self.mask_generator.get_state(),
        }

    def _set_rng_states(self, states: dict[str, Any]) -> None:
        set_torch_rng_state(states["torch"])
        self.batch_generator.set_state(states["batch"])
        self.mask_generator.set_state(states["mask"])

    # steps

    def next_batch(self) -> list[int]:
        """Indices of the next batch; a new epoch in a fresh shuffled order when the current one is done."""
        if not self.progress.pending:
            lengths = [u.feats.shape[0] for u in self.utterances]
            self.progress.pending = length_batches(
                lengths, max_frames=self.config.max_frames, max_size=self.config.max_batch_size,
                generator=self.batch_generator, shuffle=True,
            )
        return self.progress.pending.pop(0)

    def step(self, indices: Sequence[int]) -> PretrainLoss | None:
        """One forward/backward pass and optimizer step; ``None`` when it is skipped for a non-finite loss or gradient."""
        batch = collate([self.utterances[i] for i in indices]).to(self.device)
        loss = self.loss(batch)
        finite = math.isfinite(loss.total.item())
        if finite:
            loss.total.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)  # ()
            finite = math.isfinite(float(grad_norm))
        if finite:
            self.optimizer.step()
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.frames += sum(batch.feat_lens)
        return loss if finite else None

    def loss(self, batch: SpeechBatch) -> PretrainLoss:
        """Forward pass (bf16 autocast on CUDA) and loss of ``batch``."""
        seqs_layout = BatchLayout.of(batch.feats, batch.feat_lens)
        encoder_lens = torch.tensor(batch.encoder_lens, device=self.device)  # (N,)
        scores = None if self.scores is None else _batch_scores(batch.ids, self.scores, self.device)  # (N, S)
        weights = utterance_weights(scores, encoder_lens) if self.config.masker == "ask2mask+utt" else None  # (N, S), (N,) -> (N,)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"), self._scoring(scores):
            features = self.model.extract_features(batch.feats, seqs_layout)  # (N, F, 80) -> (N, S, M)
            output = self.model.quantize_and_contrast(features)  # (N, S, M) -> logits (N, S_msk, L)
            return pretrain_loss(self.model, output, self.config, weights)

    def _scoring(self, scores: Tensor | None) -> AbstractContextManager[None]:
        """The Ask2Mask masker's scoring context for ``scores`` ``(N, S)``; nothing to do for ``"random"``."""
        return nullcontext() if self.masker is None or scores is None else self.masker.scoring(scores)

    @property
    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])


# --- the run ------------------------------------------------------------------------------


def pretrain(
    config: PretrainConfig,
    utterances: Sequence[Utterance],
    scores: Mapping[str, Tensor] | None,
    out_dir: Path,
    checkpoint_dir: Path,
    *,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Pretrain a wav2vec 2.0 model; write ``out_dir/model.pt`` and ``out_dir/metrics.jsonl``; return a summary.

    ``scores`` maps utterance id -> ``(S,)`` frame confidences at the encoder
    frame rate (needed by the Ask2Mask maskers, ignored by ``"random"``).
    Utterances too short to mask are dropped. ``checkpoint_dir/last.pt`` is
    written every ``checkpoint_every`` steps and resumed from when present.
    ``progress(step, total)`` is called after every optimizer step.

    Summary: ``final_loss`` (mean per-target loss of the last 10% of steps),
    ``steps``, ``skipped_nan``, ``dropped_short`` (utterances too short to
    mask), ``seconds`` (training time, over resumed sessions too),
    ``utterances`` (trained on) and ``frames_per_second`` (unpadded 10 ms
    filterbank frames per training second).
    """
    config.validate()
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kept, dropped = _maskable(utterances, config.mask)
    trainer = Trainer(config, kept, _fitted_scores(kept, scores, config.masker), device)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    state_path, metrics_path = checkpoint_dir / "last.pt", out_dir / "metrics.jsonl"
    if state_path.exists():
        trainer.resume(state_path)
    truncate_metrics(metrics_path, trainer.progress.step)
    _train(trainer, state_path, metrics_path, progress)
    done = trainer.progress
    save_checkpoint(out_dir / "model.pt", trainer.model, kind="wav2vec2", arch=config.arch, masker=config.masker, steps=done.step)
    tail = done.losses[-max(1, math.ceil(len(done.losses) / 10)) :]
    summary = {
        "final_loss": sum(tail) / len(tail),
        "steps": done.step,
        "skipped_nan": done.skipped_nan,
        "dropped_short": dropped,
        "seconds": done.seconds,
        "utterances": len(kept),
        "frames_per_second": done.frames / done.seconds if done.seconds else 0.0,
    }
    log.info("pretraining done: %s", summary)
    return summary


def _train(trainer: Trainer, state_path: Path, metrics_path: Path, progress: Callable[[int, int], None] | None) -> None:
    """Step until ``config.steps`` optimizer steps are done, checkpointing and logging on the way."""
    config, done = trainer.config, trainer.progress
    while done.step < config.steps:
        started, lr = time.perf_counter(), trainer.lr
        loss = trainer.step(trainer.next_batch())
        done.seconds += time.perf_counter() - started
        if loss is None:
            _count_skipped(done, config.max_nan_steps)
            continue
        done.step += 1
        done.losses.append(loss.total.item())
        if done.step % config.checkpoint_every == 0 or done.step == config.steps:
            trainer.save(state_path)
        if done.step % config.log_every == 0:
            _append_metrics(metrics_path, done, loss, lr)
        if progress is not None:
            progress(done.step, config.steps)


def _count_skipped(done: _Progress, max_nan_steps: int) -> None:
    """Count a skipped step; raise ``NanLossError`` once more than ``max_nan_steps`` were skipped."""
    done.skipped_nan += 1
    log.warning("skipping step %d: non-finite loss or gradient norm (%d skipped so far)", done.step + 1, done.skipped_nan)
    if done.skipped_nan > max_nan_steps:
        raise NanLossError(
            f"{done.skipped_nan} steps had a non-finite loss or gradient norm, more than max_nan_steps={max_nan_steps}; "
            f"the last at step {done.step + 1}"
        )


def _append_metrics(path: Path, done: _Progress, loss: PretrainLoss, lr: float) -> None:
    """Append the metrics line of the step just done."""
    append_metrics(path, {
        "step": done.step, "loss": loss.total.item(), "contrastive": loss.contrastive.item(),
        "diversity": loss.diversity.item(), "lr": lr, "seconds": round(done.seconds, 3), "skipped_nan": done.skipped_nan,
    })
