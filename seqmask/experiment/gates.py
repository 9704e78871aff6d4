"""Gates: the conditions under which a comparison means something (a reference learns, the baseline beats none).

A table whose gates do not all hold still prints its numbers, but its comparison
columns say "not meaningful": no verdict is read off a broken baseline.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    """One condition and what was measured for it."""

    name: str
    holds: bool
    measured: str


def at_most(name: str, value: float | None, limit: float) -> Gate:
    """``value`` (e.g. a reference's valid error rate, %) must be at most ``limit``; a missing value fails."""
    if value is None:
        return Gate(name, False, "not measured")
    return Gate(name, value <= limit, f"{value:.1f}")


def lower_by_a_std(name: str, lower: Sequence[float], higher: Sequence[float]) -> Gate:
    """``lower`` must have a lower mean than ``higher`` by more than the larger of their sample standard deviations.

    With one value on either side there is no spread to beat: the gate then holds on a lower value alone, and says so.
    """
    if not lower or not higher:
        return Gate(name, False, "not measured")
    gap = statistics.mean(higher) - statistics.mean(lower)
    spread = max((statistics.stdev(v) for v in (lower, higher) if len(v) > 1), default=None)
    measured = f"{statistics.mean(lower):.1f} vs {statistics.mean(higher):.1f}"
    if spread is None:
        return Gate(name, gap > 0, f"{measured} (one seed: no spread to beat)")
    return Gate(name, gap > spread, f"{measured}, gap {gap:.1f}, largest std {spread:.1f}")


def gates_markdown(gates: Sequence[Gate]) -> str:
    """A table of the gates, and the verdict line every comparison below it obeys."""
    lines = ["| gate | measured | holds |", "|:---|---:|:---|"]
    lines += [f"| {gate.name} | {gate.measured} | {'yes' if gate.holds else '**no**'} |" for gate in gates]
    failing = [gate.name for gate in gates if not gate.holds]
    verdict = (
        "every gate holds: the comparisons below are meaningful"
        if not failing
        else ("**not meaningful**: a gate fails (" + "; ".join(failing) + "), so no comparison below is a result")
    )
    return "\n".join(lines) + "\n\n" + verdict + "\n"


def all_hold(gates: Sequence[Gate]) -> bool:
    return all(gate.holds for gate in gates)
