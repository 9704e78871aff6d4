"""Mask parameters (no torch imports): the baseline's span rule, Ask2Mask's placement of the spans, LEM's unit priorities."""

from __future__ import annotations

from dataclasses import dataclass

from seqmask.schema import require

SELECTIONS = ("topk", "sample")


def check_span_args(span_len: int, max_mask_prob: float, min_num_spans: int) -> None:
    """Raise ``ConfigError`` (a ``ValueError``) naming the first span argument that is out of range."""
    require(span_len >= 1, "span_len", ">= 1", span_len)
    require(0.0 < max_mask_prob <= 1.0, "max_mask_prob", "a probability in (0, 1]", max_mask_prob)
    require(min_num_spans >= 0, "min_num_spans", ">= 0", min_num_spans)


@dataclass(frozen=True, kw_only=True)
class SpanMask:
    """fairseq2's random span masks: how long a span is, how much a row may mask, how many spans at least."""

    span_len: int = 10
    """Frames per mask span."""
    max_mask_prob: float = 0.65
    """fairseq2's span budget: ``K = int(max_mask_prob / span_len * (length - 1))``."""
    min_num_spans: int = 2
    """A batch where fewer spans fit is left unmasked (fairseq2 raises)."""

    def validate(self) -> None:
        check_span_args(self.span_len, self.max_mask_prob, self.min_num_spans)


@dataclass(frozen=True, kw_only=True)
class Ask2MaskParams(SpanMask):
    """Ask2Mask frame-level masking parameters: the baseline's span rule, and where the spans go."""

    selection: str = "topk"
    """``"topk"``: each span where it newly masks the most confidence; ``"sample"``: drawn by it."""
    tau: float = 1.0
    """Temperature of ``"sample"``: probability proportional to ``score ** (1 / tau)``."""
    random_share: float = 0.0
    """Share of each row's spans placed uniformly at random instead."""

    def validate(self) -> None:
        super().validate()
        require(self.selection in SELECTIONS, "selection", f"one of {SELECTIONS}", self.selection)
        require(0.0 < self.tau < float("inf"), "tau", "a positive finite temperature", self.tau)
        require(0.0 <= self.random_share <= 1.0, "random_share", "a share in [0, 1]", self.random_share)


@dataclass(frozen=True, kw_only=True)
class LemParams:
    """Which units LEM masks first, and how a masked sub-token is replaced (``seqmask.masking.lem``)."""

    mask_prob: float = 0.15
    """Share of a row's maskable sub-tokens that are masked (rounded)."""
    entity: int | None = None
    """Named-entity units per sentence that come first: None for all, 0 switches the kind off (it is then an other word)."""
    noun: int | None = None
    """Noun units per sentence that come first (as ``entity``)."""
    verb: int | None = None
    """Verb units per sentence that come first (as ``entity``)."""
    replace_mask: float = 0.8
    """Share of masked sub-tokens replaced by ``<mask>``."""
    replace_random: float = 0.1
    """Share replaced by a random token; the rest stay unchanged."""

    def validate(self) -> None:
        require(0 < self.mask_prob < 1, "mask_prob", "in (0, 1)", self.mask_prob)
        for kind in ("entity", "noun", "verb"):
            cap = getattr(self, kind)
            require(cap is None or (isinstance(cap, int) and cap >= 0), kind, "null or an integer >= 0", cap)
        require(self.replace_random >= 0, "replace_random", ">= 0", self.replace_random)
        require(0 <= self.replace_mask <= 1 - self.replace_random, "replace_mask", f"in [0, 1 - replace_random = {1 - self.replace_random:g}]",
                self.replace_mask)


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
