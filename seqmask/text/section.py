"""The ``text`` section of the experiment config: the leaf sections of :mod:`seqmask.text.config`, continual
pretraining with LEM's parameters, and the comparison. Kept apart so that a stage reading a leaf section does not
have LEM's parameters in its key."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqmask.experiment.comparison import ComparisonConfig
from seqmask.masking.params.lem import LemParams
from seqmask.schema import require
from seqmask.text.config import (
    BASELINE,
    STRATEGIES,
    UNIT_MODES,
    BaseConfig,
    EncoderConfig,
    MineConfig,
    TagConfig,
    TextGates,
    TokenizerConfig,
)
from seqmask.training.config import TrainingConfig


@dataclass(frozen=True, kw_only=True)
class ContinualConfig:
    """Continual pretraining: MLM on monolingual text, then TLM on translation pairs, both with the strategy's
    masking."""

    batch_size: int = 64
    """Rows per batch (a sentence, or a pair for TLM)."""
    mlm: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=300, lr=1e-3, warmup_steps=30))
    """The MLM phase."""
    tlm: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=1500, lr=1e-3, warmup_steps=150))
    """The TLM phase, from the MLM phase's weights."""
    lem: LemParams = field(default_factory=LemParams)
    """LEM's budget, entity/noun/verb caps and replacement shares; plain MLM uses its ``mask_prob`` and shares."""
    units: str = "span"
    """``span``: one sub-token per named-entity span (the paper); ``word``: one per entity word (the authors' code)."""

    def validate(self) -> None:
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        require(self.units in UNIT_MODES, "units", f"one of {UNIT_MODES}", self.units)


@dataclass(frozen=True, kw_only=True)
class TextConfig:
    """LEM: tokenizer, tags, base encoder, continual pretraining per strategy, mining and the comparison."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    tag: TagConfig = field(default_factory=TagConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    base: BaseConfig = field(default_factory=BaseConfig)
    continual: ContinualConfig = field(default_factory=ContinualConfig)
    mine: MineConfig = field(default_factory=MineConfig)
    gates: TextGates = field(default_factory=TextGates)
    comparison: ComparisonConfig = field(
        default_factory=lambda: ComparisonConfig(variants=STRATEGIES, baseline=BASELINE)
    )
    """The strategies ``text-compare`` runs over its seeds (``text``: the ``main`` ones, seed 0)."""

    def validate(self) -> None:
        self.comparison.check_variants(STRATEGIES)
