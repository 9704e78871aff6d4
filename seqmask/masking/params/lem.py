"""LEM's parameters: which units it masks first and how a masked sub-token is replaced."""

from __future__ import annotations

from dataclasses import dataclass

from seqmask.schema import require


@dataclass(frozen=True, kw_only=True)
class LemParams:
    """Which units LEM masks first, and how a masked sub-token is replaced (``seqmask.masking.lem``)."""

    mask_prob: float = 0.15
    """Share of a row's maskable sub-tokens that are masked (rounded)."""
    entity: int | None = None
    """Named-entity units per sentence that come first: None for all, 0 switches the kind off (it is then an other
    word)."""
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
        require(
            0 <= self.replace_mask <= 1 - self.replace_random,
            "replace_mask",
            f"in [0, 1 - replace_random = {1 - self.replace_random:g}]",
            self.replace_mask,
        )
