"""What the benches share: the ``--quick`` switch, rounds whose order of sides rotates, paired median ratios and
markdown tables.

A bench that compares sides (maskers, worker counts, backends) measures every side once per round, in an order that
rotates from round to round (two sides: AB, BA, AB, ...; three: ABC, BCA, CAB, ...), so that load drifting on the
machine falls on every side alike and no side is always first (or last, after the others warmed caches). Its ratio
is the median over rounds of the per-round ratio of the two sides' values, paired within the round, never a ratio of
totals or of separately taken medians.

``--quick`` runs one tiny round at tiny sizes (seconds, not minutes): it checks that the bench runs end to end and
prints its table, and its numbers mean nothing. ``tests/test_benches.py`` runs every bench that way.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

QUICK_HELP = (
    "one tiny round at tiny sizes: checks that the bench runs end to end and prints its table (numbers mean nothing)"
)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc`` (a bench's docstring), with ``--quick``."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
    return parser


def parse_args(
    parser: argparse.ArgumentParser, quick: Mapping[str, Any], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse ``argv``; with ``--quick``, every option named in ``quick`` that the command line left at its default takes
    its quick value (an option given explicitly wins)."""
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in quick.items():
            if name not in vars(args):
                raise KeyError(
                    f"quick value for {name!r}, but the parser has no such option (has {sorted(vars(args))})"
                )
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """The order of the sides ``names`` in round ``round_index``: starting at side ``round_index % len(names)``."""
    start = round_index % len(names)
    return [*names[start:], *names[:start]]


def run_rounds(
    sides: Mapping[str, Callable[[], float]], rounds: int, *, on_round: Callable[[int, list[str]], None] | None = None
) -> dict[str, list[float]]:
    """Call every side's measurement once per round, in ``rotated`` order; each side's values, round by round.

    ``on_round(round_index, order)`` is called before each round (e.g. to log the order)."""
    if rounds < 1:
        raise ValueError(f"rounds: expected >= 1, found {rounds}")
    names = list(sides)
    values: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        order = rotated(names, round_index)
        if on_round is not None:
            on_round(round_index, order)
        for name in order:
            values[name].append(float(sides[name]()))
    return values


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """``numerator[r] / denominator[r]`` for every round ``r`` (both measured in the same round)."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(
            f"paired rounds: expected two equal, non-empty series, found {len(numerator)} and {len(denominator)} values"
        )
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def median_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median over rounds of the paired per-round ratio ``numerator[r] / denominator[r]``."""
    return statistics.median(paired_ratios(numerator, denominator))


def per_round(numerator: Sequence[float], denominator: Sequence[float]) -> str:
    """The paired per-round ratios, in round order, for a line under a table (their spread shows the noise)."""
    return ", ".join(f"{ratio:.3f}" for ratio in paired_ratios(numerator, denominator))


def order_note(names: Sequence[str], rounds: int) -> str:
    """A line saying how the sides took turns."""
    counted = f"{rounds} round{'s' if rounds != 1 else ''}"
    if len(names) < 2:
        return counted
    shown = min(rounds, len(names))
    orders = "; ".join(f"round {r + 1}: {' > '.join(map(str, rotated(names, r)))}" for r in range(shown))
    more = "; ..." if rounds > shown else ""
    return (
        f"{counted}, the order of the sides rotating every round ({orders}{more});"
        " ratios: median of the per-round paired ratios"
    )


def print_table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A markdown table; ``align`` per column: ``"l"`` (``:---``), ``"r"`` (``---:``) or ``""`` (``---``)."""
    marks = {"l": ":---", "r": "---:", "": "---"}
    print("| " + " | ".join(map(str, header)) + " |")
    print("|" + "|".join(marks[a] for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
