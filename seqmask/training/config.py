"""How a unit is trained: optimiser, schedule, steps, precision, checkpointing and logging (no torch imports)."""

from __future__ import annotations

from dataclasses import dataclass

from seqmask.schema import require

PRECISIONS = ("auto", "fp32", "bf16")
"""``auto``: bf16 autocast on CUDA, fp32 elsewhere."""


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """AdamW with linear warm-up and linear decay to 0, gradient clipping, resumable checkpoints."""

    steps: int = 1200
    """Optimizer steps."""
    lr: float = 1e-3
    """Peak learning rate."""
    warmup_steps: int = 120
    """Steps of linear warm-up from 0 to ``lr``; then linear decay to 0 at ``steps``."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW moment decay rates."""
    eps: float = 1e-8
    """AdamW denominator epsilon."""
    clip_norm: float = 5.0
    """Gradient norm clipping threshold."""
    seed: int = 0
    """Seed of the initialisation, the batch order, dropout and masking."""
    precision: str = "auto"
    """``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``."""
    checkpoint_every: int = 100
    """Steps between resumable checkpoints."""
    log_every: int = 10
    """Steps between rows of ``metrics.jsonl`` (each the mean over its steps)."""
    max_nan_steps: int = 10
    """Steps with a non-finite loss or gradient norm skipped before the run fails."""

    def validate(self) -> None:
        require(self.steps >= 1, "steps", ">= 1", self.steps)
        require(self.lr > 0, "lr", "> 0", self.lr)
        require(0 <= self.warmup_steps < self.steps, "warmup_steps", f"in [0, steps = {self.steps})", self.warmup_steps)
        require(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        require(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", "two rates in [0, 1)", self.betas
        )
        require(self.eps > 0, "eps", "> 0", self.eps)
        require(self.clip_norm > 0, "clip_norm", "> 0", self.clip_norm)
        require(self.seed >= 0, "seed", ">= 0", self.seed)
        require(self.precision in PRECISIONS, "precision", f"one of {PRECISIONS}", self.precision)
        require(self.checkpoint_every >= 1, "checkpoint_every", ">= 1", self.checkpoint_every)
        require(self.log_every >= 1, "log_every", ">= 1", self.log_every)
        require(self.max_nan_steps >= 0, "max_nan_steps", ">= 0", self.max_nan_steps)
