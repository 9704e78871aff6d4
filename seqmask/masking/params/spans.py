"""Span-mask parameters: the baseline's span rule (fairseq2's) and Ask2Mask's placement of the spans."""

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
