"""The global torch random state (CPU and every CUDA device), saved in and restored from training checkpoints."""

from __future__ import annotations

from typing import Any

import torch


def torch_rng_state() -> dict[str, Any]:
    """CPU and CUDA generator states of this process."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_torch_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`torch_rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
