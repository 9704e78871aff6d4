"""The one training loop every model family uses: a unit gives batches and a loss, the loop does the rest.

The loop seeds torch, builds the unit (so model initialisation draws from the seeded
generator), then steps AdamW with fairseq2's linear warm-up and linear decay
(``PolynomialDecayLR``, power 1), gradient clipping and autocast as
:class:`~seqmask.training.config.TrainingConfig` says. A step whose loss or
gradient norm is not finite is skipped (its batch is consumed) and counted; more
than ``max_nan_steps`` raise :class:`NanLossError`.

Every ``checkpoint_every`` steps it writes ``work_dir/last.pt``: model, optimizer,
scheduler, torch RNG state, the unit's own state (e.g. a mask generator) and the
progress, including how many batches were drawn. A run that finds ``last.pt``
resumes from it; batches are replayed from the seed, so on CPU a resumed run ends
with the same weights as an uninterrupted one. ``metrics.jsonl`` gets one row per
``log_every`` steps: the mean of the loss and of every value the unit logs over
those steps and the learning rate. Wall-clock figures (training seconds, steps per
second) and the step a run resumed from go to ``out_dir``'s build record
(:func:`seqmask.store.record_build`), not into the artifact: they differ between two
builds that end with the same weights.

Under ``seqmask train`` with ``torchrun`` the loop is data-parallel
(:mod:`seqmask.training.distributed`): each rank trains on its share of every batch,
gradients are averaged over ranks, and rank 0 alone writes ``last.pt``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from fairseq2.gang import Gang
from fairseq2.optim.lr_schedulers import PolynomialDecayLR
from torch import Tensor, nn
from torch.optim import AdamW
from tqdm.auto import tqdm

from seqmask.files import record_build
from seqmask.training.checkpoint import read_checkpoint, save_checkpoint, set_torch_rng_state, torch_rng_state
from seqmask.training.config import TrainingConfig
from seqmask.training.device import autocast
from seqmask.training.distributed import (
    RANK_SEED_STRIDE,
    all_ranks_agree,
    average_gradients,
    broadcast_parameters,
    check_replicas_agree,
    data_parallel_gang,
    mean_over_ranks,
    shard,
)
from seqmask.training.metrics import append_metrics, truncate_metrics

log = logging.getLogger(__name__)

STATE_KIND = "training_state"
"""``seqmask.kind`` of ``last.pt``."""
ProgressFn = Callable[[int, int], None]
"""Called as ``(step, steps)`` after every optimizer step."""


class NanLossError(RuntimeError):
    """More steps than ``max_nan_steps`` had a non-finite loss or gradient norm."""


class TrainingUnit(Protocol):
    """What a model family brings to the loop (wav2vec 2.0 pretraining, CTC, MLM, motion diffusion, ...)."""

    model: nn.Module
    """The module whose parameters AdamW trains, on its device."""

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        """The batches (example indices) of one epoch, in training order, drawn with ``generator``."""
        ...

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        """``()`` loss to minimise for the examples ``batch`` at optimizer step ``step`` (1-based), and values to
        log."""
        ...

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must have been written with to be resumed here (config, vocabulary, ...)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """State beyond the model that a resumed run needs (e.g. a mask generator), as tensors and plain values."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...


@dataclass
class Progress:
    """Where a run stands; saved in ``last.pt``."""

    step: int = 0
    batches_drawn: int = 0
    """Batches taken from the epoch sequence (trained on or skipped)."""
    skipped_nan: int = 0
    losses: list[float] = field(default_factory=list)
    """Loss of every optimizer step."""
    seconds: float = 0.0
    """Training time over all sessions of the run."""


def train(
    build_unit: Callable[[], TrainingUnit],
    config: TrainingConfig,
    *,
    out_dir: Path,
    work_dir: Path,
    device: torch.device,
    progress: ProgressFn | None = None,
    desc: str = "training",
) -> tuple[TrainingUnit, dict[str, Any]]:
    """Train the unit ``build_unit()`` makes for ``config.steps`` optimizer steps; returns it and a summary.

    Summary: ``steps``, ``skipped_nan``, ``final_loss`` (mean loss of the last 10% of steps) and ``processes``
    (data-parallel ranks: 1 unless under ``torchrun``; ``work_dir`` is then shared by all ranks). Build record of
    ``out_dir``: ``train_seconds`` (resumed sessions included), ``steps_per_second`` and ``resumed_from_step`` (the step
    of the checkpoint it resumed from; 0 for none).
    """
    config.validate()
    gang = data_parallel_gang(device)
    torch.manual_seed(config.seed)
    unit = build_unit()
    unit.model.train()
    if gang.size > 1:
        broadcast_parameters(unit.model, gang)
    optimizer, scheduler = optimizer_for(unit.model, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    state_path, metrics_path = work_dir / "last.pt", out_dir / "metrics.jsonl"
    done = Progress()
    if state_path.is_file():
        done = _resume(state_path, config, unit, optimizer, scheduler)
    if gang.rank > 0:  # its own dropout and noise, continuing from where the run stands
        torch.manual_seed(config.seed + gang.rank * RANK_SEED_STRIDE + done.step)
    resumed_from_step = done.step
    truncate_metrics(metrics_path, done.step)
    batches = itertools.islice(_epochs(unit, config.seed), done.batches_drawn, None)
    window: list[dict[str, float]] = []
    with tqdm(total=config.steps, initial=done.step, desc=desc, unit="step") as bar:
        while done.step < config.steps:
            lr = float(scheduler.get_last_lr()[0])
            started = time.perf_counter()
            logged = train_step(unit, next(batches), done.step + 1, optimizer, scheduler, config, device, gang)
            done.batches_drawn += 1
            done.seconds += time.perf_counter() - started
            if logged is None:
                _count_skipped(done, config.max_nan_steps)
                continue
            done.step += 1
            done.losses.append(logged["loss"])
            window.append(logged)
            if gang.rank == 0 and (done.step % config.checkpoint_every == 0 or done.step == config.steps):
                _save(state_path, config, unit, optimizer, scheduler, done)
            if done.step % config.log_every == 0 or done.step == config.steps:
                means = {name: sum(row[name] for row in window) / len(window) for name in window[0]}
                append_metrics(metrics_path, {"step": done.step, **means, "lr": lr, "skipped_nan": done.skipped_nan})
                window = []
            bar.update(1)
            if progress is not None:
                progress(done.step, config.steps)
    if gang.size > 1:
        check_replicas_agree(unit.model, gang)
    tail = done.losses[-max(1, math.ceil(len(done.losses) / 10)) :]
    summary = {
        "steps": done.step,
        "skipped_nan": done.skipped_nan,
        "final_loss": sum(tail) / len(tail),
        "processes": gang.size,
    }
    record_build(
        out_dir,
        train_seconds=round(done.seconds, 3),
        steps_per_second=round(done.step / max(done.seconds, 1e-9), 3),
        resumed_from_step=resumed_from_step,
    )
    return unit, summary


def shuffled_batches(count: int, batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """One epoch of ``count`` examples in a random order cut into full batches of ``batch_size`` (the rest is
    dropped)."""
    order = torch.randperm(count, generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, count - batch_size + 1, batch_size)]


def _epochs(unit: TrainingUnit, seed: int) -> Iterator[list[int]]:
    """Batches epoch after epoch, each epoch's order drawn from one generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from unit.epoch(generator)


def optimizer_for(model: nn.Module, config: TrainingConfig) -> tuple[AdamW, PolynomialDecayLR]:
    """AdamW over ``model``'s parameters and fairseq2's linear warm-up and linear decay to 0 at ``config.steps``."""
    optimizer = AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
    )
    return optimizer, PolynomialDecayLR(optimizer, config.steps, config.warmup_steps)


def train_step(
    unit: TrainingUnit,
    batch: Sequence[int],
    step: int,
    optimizer: AdamW,
    scheduler: PolynomialDecayLR,
    config: TrainingConfig,
    device: torch.device,
    gang: Gang | None = None,
) -> dict[str, float] | None:
    """One forward/backward pass and optimizer step on this rank's share of ``batch`` (``gang``: the data-parallel gang,
    by default this process's); the logged values (means over ranks), or ``None`` when skipped as non-finite (on any
    rank)."""
    gang = gang or data_parallel_gang(device)
    with autocast(device, config.precision):
        loss, logs = unit.loss(shard(batch, gang), step)  # ()
    value = loss.item()
    finite = math.isfinite(value)
    if finite:
        loss.backward()
    if gang.size > 1:
        finite = all_ranks_agree(finite, gang, device)
        if finite:
            average_gradients(unit.model, gang)
    if finite:
        grad_norm = torch.nn.utils.clip_grad_norm_(unit.model.parameters(), config.clip_norm)  # ()
        finite = math.isfinite(float(grad_norm))
    if finite:
        optimizer.step()
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    if not finite:
        return None
    logged = {"loss": value, **{name: float(v) for name, v in logs.items()}}
    if gang.size > 1:
        logged = dict(zip(logged, mean_over_ranks(list(logged.values()), gang, device)))
    return logged


def _count_skipped(done: Progress, max_nan_steps: int) -> None:
    """Count a skipped step; raise ``NanLossError`` once more than ``max_nan_steps`` were skipped."""
    done.skipped_nan += 1
    log.warning(
        "skipping step %d: non-finite loss or gradient norm (%d skipped so far)", done.step + 1, done.skipped_nan
    )
    if done.skipped_nan > max_nan_steps:
        raise NanLossError(
            f"{done.skipped_nan} steps had a non-finite loss or gradient norm, more than "
            f"max_nan_steps={max_nan_steps}; the last at step {done.step + 1}"
        )


def _identity(config: TrainingConfig, unit: TrainingUnit) -> dict[str, Any]:
    return {"training": dataclasses.asdict(config), "unit": unit.identity()}


def _save(
    path: Path,
    config: TrainingConfig,
    unit: TrainingUnit,
    optimizer: AdamW,
    scheduler: PolynomialDecayLR,
    done: Progress,
) -> None:
    """Write the resumable state to ``path`` atomically."""
    save_checkpoint(
        path,
        unit.model,
        kind=STATE_KIND,
        arch="",
        identity=_identity(config, unit),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        progress=dataclasses.asdict(done),
        rng=torch_rng_state(),
        unit=unit.state_dict(),
    )


def _resume(
    path: Path, config: TrainingConfig, unit: TrainingUnit, optimizer: AdamW, scheduler: PolynomialDecayLR
) -> Progress:
    """Restore the state ``_save`` wrote; it must come from the same config and unit."""
    checkpoint = read_checkpoint(path)
    meta = checkpoint.get("seqmask", {})
    expected, found = _identity(config, unit), meta.get("identity", {})
    if meta.get("kind") != STATE_KIND or found != expected:
        changed = [
            f"{part}.{key}"
            for part in expected
            for key in expected[part]
            if found.get(part, {}).get(key) != expected[part][key]
        ]
        raise ValueError(
            f"{path} does not continue this run: expected a {STATE_KIND!r} checkpoint of the same training config and "
            f"unit, found kind {meta.get('kind')!r} with other {changed or 'contents'}; delete it to start over"
        )
    unit.model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(meta["optimizer"])
    scheduler.load_state_dict(meta["scheduler"])
    set_torch_rng_state(meta["rng"])
    unit.load_state_dict(meta["unit"])
    done = Progress(**meta["progress"])
    log.info("resuming training from %s at step %d", path, done.step)
    return done
