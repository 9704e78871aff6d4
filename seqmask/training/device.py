"""Where models run: CUDA when present, else CPU, and the autocast that goes with it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device, precision: str = "auto") -> AbstractContextManager[Any]:
    """bf16 autocast where ``precision`` asks for it (``auto``: on CUDA only); a no-op otherwise."""
    enabled = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
