"""Word and character error rates (jiwer) per test group, and markdown tables comparing models.

References and hypotheses are compared after :func:`~seqmask.speech.vocab.normalize_text`.
Rates are corpus-level: total edits over total reference words (characters),
not a mean of per-utterance rates. Utterances whose normalised reference is
empty have no defined rate: they are left out and counted as ``empty_refs``;
a group with no other utterance has rates ``None``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jiwer

from seqmask.speech.vocab import normalize_text

METRICS = ("wer", "cer")
ALL = "all"
"""Group of every utterance."""


def error_rates(refs: Mapping[str, str], hyps: Mapping[str, str]) -> dict[str, Any]:
    """``{"wer", "cer", "utterances", "words", "empty_refs"}`` of ``hyps`` against ``refs`` (same ids).

    ``utterances`` and ``words`` count the scored utterances and their reference words.
    """
    _check_same_ids(refs, hyps)
    pairs = [(normalize_text(refs[uid]), normalize_text(hyps[uid])) for uid in sorted(refs)]
    scored = [(ref, hyp) for ref, hyp in pairs if ref]
    rates: dict[str, Any] = {"wer": None, "cer": None}
    if scored:
        references, hypotheses = [ref for ref, _ in scored], [hyp for _, hyp in scored]
        rates = {"wer": jiwer.wer(references, hypotheses), "cer": jiwer.cer(references, hypotheses)}
    words = sum(len(ref.split()) for ref, _ in scored)
    return {**rates, "utterances": len(scored), "words": words, "empty_refs": len(pairs) - len(scored)}


def _check_same_ids(refs: Mapping[str, str], hyps: Mapping[str, str]) -> None:
    """Raise ``ValueError`` listing the ids only one side has."""
    no_hyp, no_ref = sorted(set(refs) - set(hyps)), sorted(set(hyps) - set(refs))
    if no_hyp or no_ref:
        raise ValueError(
            f"expected hypotheses for exactly the reference ids, found {len(no_hyp)} references without a hypothesis "
            f"{no_hyp[:10]} and {len(no_ref)} hypotheses without a reference {no_ref[:10]}"
        )


def evaluate_groups(refs: Mapping[str, str], hyps: Mapping[str, str], groups: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """:func:`error_rates` of every group (``groups`` maps utterance id -> group, e.g. ``"test_matched/fsdd"``) and of ``"all"``."""
    _check_same_ids(refs, hyps)
    ungrouped = sorted(set(refs) - set(groups))
    if ungrouped:
        raise ValueError(f"expected a group for every reference id, found {len(ungrouped)} without: {ungrouped[:10]}")
    members: dict[str, list[str]] = {}
    for uid in refs:
        members.setdefault(groups[uid], []).append(uid)
    results = {group: error_rates({u: refs[u] for u in ids}, {u: hyps[u] for u in ids}) for group, ids in sorted(members.items())}
    return {**results, ALL: error_rates(refs, hyps)}


def wer_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]], *, metric: str = "wer") -> str:
    """Markdown table of ``results`` (model -> group -> :func:`error_rates`): a row per group, a column per model, in %."""
    _check_metric(metric)
    models = list(results)
    header = ["group", "utterances", *models]
    rows = []
    for group in _group_order(results.values()):
        cells = [results[m].get(group) for m in models]
        rows.append([group, _count(cells), *(_percent(None if c is None else c[metric]) for c in cells)])
    return _markdown(header, rows)


def compare_table(runs: Sequence[Mapping[str, Any]], *, baseline: str = "random", metric: str = "wer") -> str:
    """Markdown table of runs over seeds: a row per group, ``mean ± std (n seeds)`` in % per variant.

    ``runs``: ``{"variant", "seed", "results": group -> error_rates}``. Each
    variant other than ``baseline`` also gets a ``<variant> rel. vs <baseline>``
    column: ``(variant mean - baseline mean) / baseline mean`` in % (negative = better).
    std is the sample standard deviation over seeds (``–`` for one seed).
    """
    _check_metric(metric)
    by_variant = _runs_by_variant(runs)
    if baseline not in by_variant:
        raise ValueError(f"expected runs of the baseline variant {baseline!r}, found variants {list(by_variant)}")
    variants = list(by_variant)
    rows = []
    all_results = [run["results"] for run in runs]
    for group in _group_order(all_results):
        values = {v: _metric_values(results, group, metric) for v, results in by_variant.items()}
        rows.append([group, _count([r.get(group) for r in all_results]), *_variant_cells(values, variants, baseline)])
    return _markdown(["group", "utterances", *_variant_columns(variants, baseline)], rows)


def study_table(
    points: Mapping[str, Sequence[Mapping[str, Any]]], *, group: str, baseline: str = "random", metric: str = "wer",
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Markdown table of a study: a row per point, ``mean ± std`` of ``group`` in % per variant.

    ``points``: point name -> runs as for :func:`compare_table`. ``columns``:
    extra leading columns, column name -> point -> cell. Each variant other than
    ``baseline`` also gets its change relative to the same point's baseline.
    """
    _check_metric(metric)
    columns = columns or {}
    variants: list[str] | None = None
    rows = []
    for point, runs in points.items():
        by_variant = _runs_by_variant(runs)
        if baseline not in by_variant:
            raise ValueError(f"study point {point!r}: expected runs of the baseline variant {baseline!r}, found {list(by_variant)}")
        variants = variants or list(by_variant)
        if set(by_variant) != set(variants):
            raise ValueError(f"study point {point!r}: expected the variants of the other points {variants}, found {list(by_variant)}")
        values = {v: _metric_values(results, group, metric) for v, results in by_variant.items()}
        rows.append([point, *(columns[c].get(point, "–") for c in columns), *_variant_cells(values, variants, baseline)])
    return _markdown(["point", *columns, *_variant_columns(variants or [baseline], baseline)], rows)


def _variant_columns(variants: Sequence[str], baseline: str) -> list[str]:
    """Column names: the baseline, then each other variant and its change against the baseline."""
    columns = [baseline]
    for variant in variants:
        if variant != baseline:
            columns += [variant, f"{variant} rel. vs {baseline}"]
    return columns


def _variant_cells(values: Mapping[str, Sequence[float]], variants: Sequence[str], baseline: str) -> list[str]:
    """Cells under :func:`_variant_columns`: ``mean ± std`` per variant, relative change per non-baseline variant."""
    cells = [_mean_std(values[baseline])]
    for variant in variants:
        if variant != baseline:
            cells += [_mean_std(values[variant]), _relative(values[variant], values[baseline])]
    return cells


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, found {metric!r}")


def _runs_by_variant(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Mapping[str, Any]]]]:
    """Results of every variant in order of first appearance; a repeated (variant, seed) raises ``ValueError``."""
    seen: set[tuple[str, Any]] = set()
    by_variant: dict[str, list[Mapping[str, Mapping[str, Any]]]] = {}
    for run in runs:
        key = (run["variant"], run["seed"])
        if key in seen:
            raise ValueError(f"expected one run per variant and seed, found variant {key[0]!r} seed {key[1]!r} twice")
        seen.add(key)
        by_variant.setdefault(run["variant"], []).append(run["results"])
    return by_variant


def _group_order(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """Groups of all ``results`` (iterable of group -> rates), sorted, ``"all"`` last."""
    groups = {group for result in results for group in result}
    return sorted(groups - {ALL}) + ([ALL] if ALL in groups else [])


def _metric_values(results: Sequence[Mapping[str, Mapping[str, Any]]], group: str, metric: str) -> list[float]:
    """The defined values of ``metric`` for ``group`` over seeds, in %."""
    return [100 * r[group][metric] for r in results if group in r and r[group][metric] is not None]


def _count(cells: Sequence[Mapping[str, Any] | None]) -> str:
    """Scored utterances of a group; distinct counts (models on different data) joined with ``/``."""
    counts = sorted({c["utterances"] for c in cells if c is not None})
    return " / ".join(map(str, counts))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return "–"
    std = f"{statistics.stdev(values):.1f}" if len(values) > 1 else "–"
    seeds = "seed" if len(values) == 1 else "seeds"
    return f"{statistics.mean(values):.1f} ± {std} ({len(values)} {seeds})"


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
