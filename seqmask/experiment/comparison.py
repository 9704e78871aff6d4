"""The comparison kit every pipeline shares: what a comparison runs (variants over seeds against a baseline) and
the files its report stage leaves (the report contract).

Each pipeline's config embeds one :class:`ComparisonConfig` as ``comparison`` and checks its variant names against
its own; its report stage writes through :func:`write_report`, so the three reports have the same files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqmask.experiment.gates import Gate
from seqmask.experiment.runs import Run, expand
from seqmask.files import write_json
from seqmask.schema import require

REPORT = "report.md"
"""The report: gates, then the tables."""
SUMMARY = "summary.md"
"""What ``seqmask run`` prints when the flow ends (the report)."""
GATES = "gates.json"
"""Each gate: its name, whether it holds, what was measured."""
TABLE = "table.json"
"""The report's numbers as rows (one per run and group), for plots and papers."""
REPORT_FILES = (REPORT, SUMMARY, GATES, TABLE)

MAIN_SEED = 0
"""The seed of a pipeline's single-run flow (``speech``, ``text``, ``motion``)."""


@dataclass(frozen=True, kw_only=True)
class ComparisonConfig:
    """What a pipeline compares: its variants, each over every seed, against one baseline."""

    variants: tuple[str, ...]
    """Variants of the ``-compare`` flow, each over every seed."""
    baseline: str
    """The variant the others are compared with (the relative columns)."""
    main: tuple[str, ...] = ()
    """Variants the single-run flow trains with seed 0; empty: every variant."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds of the ``-compare`` flow: offsets added to each training's own seed."""

    def validate(self) -> None:
        require(
            bool(self.variants) and len(set(self.variants)) == len(self.variants),
            "variants",
            "distinct variant names",
            list(self.variants),
        )
        require(self.baseline in self.variants, "baseline", f"one of the variants {list(self.variants)}", self.baseline)
        require(
            set(self.main) <= set(self.variants), "main", f"some of the variants {list(self.variants)}", list(self.main)
        )
        require(
            bool(self.seeds) and min(self.seeds) >= 0 and len(set(self.seeds)) == len(self.seeds),
            "seeds",
            "distinct seeds >= 0",
            list(self.seeds),
        )

    def check_variants(self, known: Collection[str]) -> None:
        """Raise ``ConfigError`` naming ``variants`` unless each is among the pipeline's ``known`` variants."""
        unknown = sorted(set(self.variants) - set(known))
        require(not unknown, "comparison.variants", f"variants among {sorted(known)}", list(self.variants))

    def runs(self) -> list[Run]:
        """Every variant over every seed (the ``-compare`` flow), variants outermost."""
        return expand(self.variants, self.seeds)

    def main_runs(self) -> list[Run]:
        """The single-run flow's runs: ``main`` (or every variant) with seed 0."""
        return expand(self.main or self.variants, (MAIN_SEED,))


def write_report(out: Path, report: str, gates: Sequence[Gate], table: Sequence[Mapping[str, Any]]) -> None:
    """The report contract: ``report`` as :data:`REPORT` and :data:`SUMMARY`, ``gates`` as :data:`GATES` and the
    ``table`` rows as :data:`TABLE` (plots are each report's own)."""
    (out / REPORT).write_text(report, encoding="utf-8")
    (out / SUMMARY).write_text(report, encoding="utf-8")
    write_json(out / GATES, [dataclasses.asdict(gate) for gate in gates])
    write_json(out / TABLE, list(table))
