"""MMDM's mask parameters: which tokens of the motion embedding training hides."""

from __future__ import annotations

from dataclasses import dataclass

from seqmask.schema import require

MOTION_MASKS = ("none", "time", "body")
"""MMDM's masks of the motion embedding: none (MDM), time frames (MMDM-t), body parts in frames (MMDM-b)."""


@dataclass(frozen=True, kw_only=True)
class MotionMaskParams:
    """Which tokens of the motion embedding MMDM hides during training (never at sampling)."""

    kind: str = "none"
    """``none``, ``time`` (whole frame tokens) or ``body`` (whole body parts in some frames)."""
    ratio: float = 0.3
    """``time``: share of each motion's frames masked; ``body``: share of its frames in which parts are masked."""
    parts_per_frame: int = 1
    """``body``: parts masked in each chosen frame (drawn without replacement)."""

    def validate(self) -> None:
        require(self.kind in MOTION_MASKS, "kind", f"one of {MOTION_MASKS}", self.kind)
        require(0.0 <= self.ratio < 1.0, "ratio", "in [0, 1)", self.ratio)
        require(self.parts_per_frame >= 1, "parts_per_frame", ">= 1", self.parts_per_frame)
