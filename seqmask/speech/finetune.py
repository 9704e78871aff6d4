"""CTC fine-tuning of a wav2vec 2.0 encoder, greedy decoding and transcription.

:func:`train_ctc` fine-tunes a pretrained encoder (or trains from scratch: the
Ask2Mask scorer is trained this way) with a CTC head: AdamW, fairseq2's linear
warm-up and linear decay (``PolynomialDecayLR``, power 1), gradient clipping,
bf16 autocast on CUDA only. The loss is the summed CTC loss over the batch
divided by its number of target units. fairseq2's feature masking regularises
training, except on batches too short for its span rule, which train unmasked
(fairseq2 would raise: short utterances such as spoken digits are common).

Training resumes from ``checkpoint_dir/last.pt`` (model, optimizer, scheduler,
step, RNG state): the batch order is replayed from the seed, so an interrupted
and resumed run on CPU ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from fairseq2.models.wav2vec2 import Wav2Vec2Model
from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrModel
from fairseq2.nn import BatchLayout
from fairseq2.optim.lr_schedulers import PolynomialDecayLR
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.optim import AdamW

from seqmask.speech.features import SpeechBatch, Utterance, collate, length_batches
from seqmask.speech.metrics_log import append_metrics, truncate_metrics
from seqmask.speech.model import (
    ARCHS,
    build_asr_model,
    read_checkpoint,
    save_checkpoint,
    transfer_encoder,
)
from seqmask.speech.rng import set_torch_rng_state, torch_rng_state
from seqmask.speech.vocab import BLANK_ID, Vocabulary

log = logging.getLogger(__name__)

UNITS = ("char", "sentencepiece")
TRAIN_STATE_KIND = "wav2vec2_asr_train_state"
"""``seqmask.kind`` of ``last.pt``, the resumable training state."""


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """CTC fine-tuning (and training of the Ask2Mask scorer from scratch)."""

    arch: str = "small"
    """Architecture of ``seqmask.speech.model.ARCHS``; must match the pretrained encoder's."""
    units: str = "char"
    """Output units: ``"char"`` or ``"sentencepiece"``."""
    sp_vocab_size: int = 48
    """Sentencepiece pieces (at most) when ``units`` is ``"sentencepiece"``."""
    steps: int = 1200
    """Optimizer steps."""
    lr: float = 1e-3
    """Peak learning rate."""
    warmup_steps: int = 120
    """Steps of linear warm-up from 0 to ``lr``; then linear decay to 0 at ``steps``."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    clip_norm: float = 5.0
    """Gradient norm clipping threshold."""
    max_frames: int = 12000
    """Padded filterbank frames (10 ms) per batch."""
    max_batch_size: int = 16
    """Utterances per batch."""
    freeze_encoder_steps: int = 0
    """First steps during which only the CTC head trains (front end and Transformer frozen)."""
    seed: int = 0
    """Seed of the initialisation, the batch order, dropout and masking."""
    checkpoint_every: int = 100
    """Steps between resumable checkpoints (``last.pt``)."""
    log_every: int = 10
    """Steps between rows of ``metrics.jsonl`` (loss averaged over them)."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        checks = (
            ("arch", self.arch in ARCHS, f"one of {sorted(ARCHS)}"),
            ("units", self.units in UNITS, f"one of {UNITS}"),
            ("sp_vocab_size", self.sp_vocab_size >= 2, ">= 2"),
            ("steps", self.steps >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("warmup_steps", 0 <= self.warmup_steps < self.steps, f"in [0, steps = {self.steps})"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("clip_norm", self.clip_norm > 0, "> 0"),
            ("max_frames", self.max_frames >= 1, ">= 1"),
            ("max_batch_size", self.max_batch_size >= 1, ">= 1"),
            ("freeze_encoder_steps", 0 <= self.freeze_encoder_steps <= self.steps, f"in [0, steps = {self.steps}]"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"),
            ("log_every", self.log_every >= 1, ">= 1"),
            ("seed", self.seed >= 0, ">= 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}: expected {expected}, found {getattr(self, name)!r}")


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA; a no-op elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


# --- training -------------------------------------------------------------------------------


def train_ctc(
    config: FinetuneConfig,
    train: Sequence[Utterance],
    vocab: Vocabulary,
    out_dir: Path,
    checkpoint_dir: Path,
    *,
    init_encoder: Wav2Vec2Model | None = None,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train a CTC model on ``train``; write ``out_dir/model.pt`` and ``out_dir/metrics.jsonl``.

    The encoder is copied from ``init_encoder`` when given, else trained from
    scratch. Utterances without text raise ``ValueError``; those CTC cannot
    align (:func:`ctc_frames_needed` above their encoder frames) are skipped
    and counted. ``progress(step, steps)`` is called after every step.
    Returns ``final_loss`` (the last logged loss), ``steps``,
    ``skipped_too_long`` and ``seconds`` (training time, resumed runs included).
    """
    config.validate()
    device = device or default_device()
    utterances, targets, skipped = _ctc_examples(train, vocab)
    torch.manual_seed(config.seed)
    model = _init_model(config, vocab, init_encoder).to(device)
    optimizer = AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = PolynomialDecayLR(optimizer, config.steps, config.warmup_steps)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = checkpoint_dir / "last.pt"
    step, seconds = _resume(last, config, vocab, model, optimizer, scheduler) if last.is_file() else (0, 0.0)
    metrics = out_dir / "metrics.jsonl"
    truncate_metrics(metrics, step)

    batches = itertools.islice(_endless_batches([u.feats.shape[0] for u in utterances], config), step, None)
    window: list[float] = []
    started = time.monotonic() - seconds
    model.train()
    while step < config.steps:
        step += 1
        _set_encoder_trainable(model, step > config.freeze_encoder_steps)
        indices = next(batches)
        lr = scheduler.get_last_lr()[0]
        batch = collate([utterances[i] for i in indices]).to(device)
        window.append(_train_step(model, optimizer, config.clip_norm, batch, [targets[i] for i in indices]))
        scheduler.step()
        seconds = time.monotonic() - started
        if step % config.log_every == 0 or step == config.steps:
            append_metrics(metrics, {"step": step, "loss": sum(window) / len(window), "lr": lr, "seconds": round(seconds, 3)})
            window = []
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save_train_state(last, config, vocab, model, optimizer, scheduler, step, seconds)
        if progress is not None:
            progress(step, config.steps)

    save_checkpoint(out_dir / "model.pt", model, kind="wav2vec2_asr", arch=config.arch, vocab=vocab.to_dict(), steps=step)
    return {"final_loss": _last_metrics(metrics)["loss"], "steps": step, "skipped_too_long": skipped, "seconds": round(seconds, 3)}


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
        raise ValueError(f"expected a transcript with letters or digits for every training utterance, {len(missing)} have none: {missing[:10]}")
    kept = [(u, target) for u, target in zip(train, encoded) if ctc_frames_needed(target) <= u.encoder_frames]
    skipped = len(train) - len(kept)
    if not kept:
        raise ValueError(f"all {len(train)} training utterances have more target units than encoder frames, expected some CTC can align")
    if skipped:
        log.warning("skipping %d of %d utterances: more target units than encoder frames", skipped, len(train))
    return [u for u, _ in kept], [target for _, target in kept], skipped


def _init_model(config: FinetuneConfig, vocab: Vocabulary, init_encoder: Wav2Vec2Model | None) -> Wav2Vec2AsrModel:
    """A CTC model for ``vocab``, its encoder copied from ``init_encoder`` when given."""
    model = build_asr_model(config.arch, len(vocab.tokens))
    if init_encoder is not None:
        transfer_encoder(init_encoder, model)
    return model


def _endless_batches(lengths: Sequence[int], config: FinetuneConfig) -> Iterator[list[int]]:
    """Batches of utterance indices, epoch after epoch, the batch order reshuffled from ``config.seed``."""
    generator = torch.Generator().manual_seed(config.seed)
    while True:
        yield from length_batches(lengths, max_frames=config.max_frames, max_size=config.max_batch_size, generator=generator, shuffle=True)


def _set_encoder_trainable(model: Wav2Vec2AsrModel, trainable: bool) -> None:
    """Freeze or unfreeze the front end and the Transformer (the masker and CTC head always train)."""
    model.encoder_frontend.requires_grad_(trainable)
    model.encoder.requires_grad_(trainable)


def _train_step(model: Wav2Vec2AsrModel, optimizer: AdamW, clip_norm: float, batch: SpeechBatch, targets: list[list[int]]) -> float:
    """One optimizer step on the CTC loss per target unit; returns that loss."""
    device = batch.feats.device
    padded = pad_sequence([torch.tensor(t) for t in targets], batch_first=True).to(device)  # N x (L_i,) -> (N, L)
    with _autocast(device):
        summed = model(
            batch.feats, BatchLayout.of(batch.feats, batch.feat_lens), padded, BatchLayout.of(padded, [len(t) for t in targets])
        )  # (N, F, 80), (N, L) -> ()
    loss = summed / sum(map(len, targets))  # () -> ()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item()


# --- checkpoints and metrics --------------------------------------------------------------


def _save_train_state(
    path: Path, config: FinetuneConfig, vocab: Vocabulary, model: Wav2Vec2AsrModel, optimizer: AdamW,
    scheduler: PolynomialDecayLR, step: int, seconds: float,
) -> None:
    """Write everything :func:`_resume` needs to continue after ``step``."""
    save_checkpoint(
        path, model, kind=TRAIN_STATE_KIND, arch=config.arch, config=dataclasses.asdict(config), vocab=vocab.to_dict(),
        optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), step=step, seconds=seconds, rng=torch_rng_state(),
    )


def _resume(
    path: Path, config: FinetuneConfig, vocab: Vocabulary, model: Wav2Vec2AsrModel, optimizer: AdamW, scheduler: PolynomialDecayLR
) -> tuple[int, float]:
    """Restore the training state of ``path`` into the arguments; returns its step and training seconds."""
    checkpoint = read_checkpoint(path)
    state = checkpoint.get("seqmask", {})
    if state.get("kind") != TRAIN_STATE_KIND or state.get("config") != dataclasses.asdict(config) or state.get("vocab") != vocab.to_dict():
        raise ValueError(
            f"{path} does not continue this run: expected a {TRAIN_STATE_KIND!r} checkpoint of the same config and vocabulary, "
            f"found kind {state.get('kind')!r} with config {state.get('config')}; delete it to start over"
        )
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_torch_rng_state(state["rng"])
    log.info("resuming CTC training from %s at step %d", path, state["step"])
    return state["step"], state["seconds"]


def _last_metrics(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8").splitlines()[-1])


# --- decoding -------------------------------------------------------------------------------


def inference_batches(utterances: Sequence[Utterance], max_frames: int) -> Iterator[SpeechBatch]:
    """Batches of similar length, in length order, of at most ``max_frames`` padded filterbank frames."""
    lengths = [u.feats.shape[0] for u in utterances]
    for indices in length_batches(lengths, max_frames=max_frames, max_size=len(utterances), generator=None, shuffle=False):
        yield collate([utterances[i] for i in indices])


def ctc_logits(model: Wav2Vec2AsrModel, batch: SpeechBatch) -> Tensor:
    """float32 logits of an eval-mode CTC model, without gradients: ``(N, F, 80) -> (N, S, V)``, S = max encoder frames."""
    with torch.no_grad(), _autocast(batch.feats.device):
        logits, _ = model(batch.feats, BatchLayout.of(batch.feats, batch.feat_lens))  # (N, F, 80) -> (N, S, V)
    return logits.float()  # (N, S, V)


def greedy_decode(logits: Tensor, lengths: Sequence[int], vocab: Vocabulary) -> list[str]:
    """Best path: per utterance, argmax over units, collapse repeats, drop blanks, decode.

    ``logits (N, S, V)``; ``lengths[i]`` valid frames of utterance ``i``.
    """
    if logits.ndim != 3 or logits.size(0) != len(lengths) or logits.size(2) != len(vocab.tokens):
        raise ValueError(
            f"logits must have shape (N = {len(lengths)}, S, V = {len(vocab.tokens)}), found {tuple(logits.shape)}"
        )
    if any(not 0 <= n <= logits.size(1) for n in lengths):
        raise ValueError(f"lengths must lie in [0, {logits.size(1)}], found {list(lengths)}")
    best = logits.argmax(dim=-1).cpu()  # (N, S, V) -> (N, S)
    texts = []
    for row, length in enumerate(lengths):
        path = torch.unique_consecutive(best[row, :length])  # (S_i,) -> (U_i,)
        texts.append(vocab.decode(path[path != BLANK_ID].tolist()))  # (U_i,) -> (U'_i,)
    return texts


def transcribe(
    model: Wav2Vec2AsrModel, vocab: Vocabulary, utterances: Sequence[Utterance], *, max_frames: int = 20000,
    device: torch.device | None = None,
) -> dict[str, str]:
    """Greedy CTC transcripts by utterance id; moves ``model`` to ``device`` and puts it in eval mode."""
    device = device or default_device()
    model.to(device).eval()
    hypotheses: dict[str, str] = {}
    for batch in inference_batches(utterances, max_frames):
        logits = ctc_logits(model, batch.to(device))  # (N, F, 80) -> (N, S, V)
        hypotheses.update(zip(batch.ids, greedy_decode(logits, batch.encoder_lens, vocab)))
    return hypotheses
