"""Markdown tables of results for papers: per model, mean +- std over seeds, and change against a baseline.

Results are nested dicts: group (a test set, a language pair, ...) -> metric -> value,
plus an optional count per group (``utterances``, ``pairs``). A run is
``{"variant", "seed", "results"}``. Any metric works: :class:`Metric` says how to
read and print it (WER and CER now; xSIM error and motion metrics next).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALL = "all"
"""The group that pools every test utterance; listed last."""


@dataclass(frozen=True)
class Metric:
    """How a metric is read from results and printed."""

    key: str
    """Its key in a group's results, e.g. ``"wer"``."""
    label: str
    """Heading, e.g. ``"WER %"``."""
    scale: float = 100.0
    """Printed value = stored value x scale (rates stored as fractions print as %)."""
    digits: int = 1
    """Decimals printed."""


Results = Mapping[str, Mapping[str, Any]]
"""group -> metric key -> value (and the group's count)."""


def results_table(results: Mapping[str, Results], metric: Metric, *, count: str | None = "utterances") -> str:
    """A row per group, a column per model (``results``: model -> results), values scaled by ``metric``."""
    models = list(results)
    rows = []
    for group in _group_order(results.values()):
        cells = [results[m].get(group) for m in models]
        value_cells = [_scaled(None if cell is None else cell.get(metric.key), metric) for cell in cells]
        rows.append([group, *([_count(cells, count)] if count else []), *value_cells])
    return _markdown(["group", *([count] if count else []), *models], rows)


def compare_table(
    runs: Sequence[Mapping[str, Any]],
    metric: Metric,
    *,
    baseline: str,
    count: str | None = "utterances",
    references: Mapping[str, Results] | None = None,
    meaningful: bool = True,
) -> str:
    """A row per group, ``mean ± std (n seeds)`` per variant, and each other variant's change against ``baseline``.

    The change is ``(variant mean - baseline mean) / baseline mean`` in % (negative = lower);
    std is the sample standard deviation over seeds (``–`` for one seed). ``references``
    (name -> results) get a column each after the variants. While the comparison's gates fail
    (``meaningful`` False) every change cell says "not meaningful".
    """
    references = references or {}
    by_variant = _runs_by_variant(runs)
    if baseline not in by_variant:
        raise ValueError(f"expected runs of the baseline variant {baseline!r}, found variants {list(by_variant)}")
    variants = list(by_variant)
    all_results = [run["results"] for run in runs]
    rows = []
    for group in _group_order([*all_results, *references.values()]):
        values = {v: _values(results, group, metric) for v, results in by_variant.items()}
        counts = [_count([r.get(group) for r in [*all_results, *references.values()]], count)] if count else []
        cells = _variant_cells(values, variants, baseline, meaningful, metric.digits)
        rows.append(
            [
                group,
                *counts,
                *cells,
                *(_scaled(ref.get(group, {}).get(metric.key), metric) for ref in references.values()),
            ]
        )
    return _markdown(["group", *([count] if count else []), *_variant_columns(variants, baseline), *references], rows)


def study_table(
    points: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: Metric,
    *,
    group: str,
    baseline: str,
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A row per study point, ``mean ± std`` of ``group`` per variant and the change against the point's ``baseline``.

    ``points``: point -> runs as for :func:`compare_table`; ``columns``: extra leading
    columns, name -> point -> cell.
    """
    columns = columns or {}
    variants: list[str] | None = None
    rows = []
    for point, runs in points.items():
        by_variant = _runs_by_variant(runs)
        if baseline not in by_variant:
            raise ValueError(
                f"study point {point!r}: expected runs of the baseline variant {baseline!r}, found {list(by_variant)}"
            )
        variants = variants or list(by_variant)
        if set(by_variant) != set(variants):
            raise ValueError(
                f"study point {point!r}: expected the variants of the other points {variants}, found {list(by_variant)}"
            )
        values = {v: _values(results, group, metric) for v, results in by_variant.items()}
        rows.append(
            [
                point,
                *(columns[c].get(point, "–") for c in columns),
                *_variant_cells(values, variants, baseline, digits=metric.digits),
            ]
        )
    return _markdown(["point", *columns, *_variant_columns(variants or [baseline], baseline)], rows)


def _variant_columns(variants: Sequence[str], baseline: str) -> list[str]:
    """Column names: the baseline, then each other variant and its change against the baseline."""
    columns = [baseline]
    for variant in variants:
        if variant != baseline:
            columns += [variant, f"{variant} rel. vs {baseline}"]
    return columns


def _variant_cells(
    values: Mapping[str, Sequence[float]],
    variants: Sequence[str],
    baseline: str,
    meaningful: bool = True,
    digits: int = 1,
) -> list[str]:
    """Cells under :func:`_variant_columns`: ``mean ± std`` per variant, relative change per non-baseline variant."""
    cells = [_mean_std(values[baseline], digits)]
    for variant in variants:
        if variant != baseline:
            cells += [
                _mean_std(values[variant], digits),
                _relative(values[variant], values[baseline]) if meaningful else "not meaningful",
            ]
    return cells


def _runs_by_variant(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Results]]:
    """Results of every variant in order of first appearance; a repeated (variant, seed) raises ``ValueError``."""
    seen: set[tuple[str, Any]] = set()
    by_variant: dict[str, list[Results]] = {}
    for run in runs:
        key = (run["variant"], run["seed"])
        if key in seen:
            raise ValueError(f"expected one run per variant and seed, found variant {key[0]!r} seed {key[1]!r} twice")
        seen.add(key)
        by_variant.setdefault(run["variant"], []).append(run["results"])
    return by_variant


def _group_order(results: Iterable[Results]) -> list[str]:
    """Groups of all ``results``, sorted, :data:`ALL` last."""
    groups = {group for result in results for group in result}
    return sorted(groups - {ALL}) + ([ALL] if ALL in groups else [])


def _values(results: Sequence[Results], group: str, metric: Metric) -> list[float]:
    """The defined values of ``metric`` for ``group`` over seeds, scaled."""
    return [metric.scale * r[group][metric.key] for r in results if group in r and r[group].get(metric.key) is not None]


def _count(cells: Sequence[Mapping[str, Any] | None], count: str) -> str:
    """A group's count; distinct counts (models on different data) joined with ``/``."""
    counts = sorted({c[count] for c in cells if c is not None and count in c})
    return " / ".join(map(str, counts))


def _scaled(value: float | None, metric: Metric) -> str:
    return "–" if value is None else f"{metric.scale * value:.{metric.digits}f}"


def _mean_std(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "–"
    std = f"{statistics.stdev(values):.{digits}f}" if len(values) > 1 else "–"
    seeds = "seed" if len(values) == 1 else "seeds"
    return f"{statistics.mean(values):.{digits}f} ± {std} ({len(values)} {seeds})"


def _relative(values: Sequence[float], baseline: Sequence[float]) -> str:
    """``(mean - baseline mean) / baseline mean`` in %, signed; ``–`` when undefined."""
    if not values or not baseline or statistics.mean(baseline) == 0:
        return "–"
    base = statistics.mean(baseline)
    return f"{100 * (statistics.mean(values) - base) / base:+.1f}%"


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table, first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---", *["---:"] * (len(header) - 1)]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
