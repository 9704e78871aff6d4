"""Stage ``text-report``: the gates, xSIM error tables over the runs (mean ± std over seeds, change against MLM+TLM)
with the untrained encoder, the n-gram floor and the base beside them, a plot, and a page of what each strategy
masks."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqmask.eval.report import error_bars_plot
from seqmask.experiment.comparison import GATES, REPORT, SUMMARY, TABLE, write_report
from seqmask.experiment.gates import Gate, all_hold, gates_markdown
from seqmask.experiment.runs import Run
from seqmask.experiment.tables import Metric, compare_table, results_table
from seqmask.masking.kinds import ENTITY, KINDS
from seqmask.text.artifacts import (
    BASE_MINED,
    CONTINUAL,
    CORPUS,
    MASKS,
    MINED,
    MINING_SPLITS,
    MLM_PHASE_MINED,
    NGRAMS_MINED,
    TAG,
    TOKENIZER,
    UNTRAINED_MINED,
    XSIM_PLOT,
    run_role,
)
from seqmask.text.config import BASE_ONLY, NGRAMS, UNTRAINED
from seqmask.text.mlm import choose, make_batch
from seqmask.text.readers import encode, mining, monolingual, summary, tags, vocabulary

if TYPE_CHECKING:
    from seqmask.masking.params.lem import LemParams
    from seqmask.stage import StageContext
    from seqmask.text.config import TextGates

VERSION = 1
ROLES = (CORPUS, TOKENIZER, TAG, NGRAMS_MINED, UNTRAINED_MINED, BASE_MINED, CONTINUAL, MINED)
"""The last two as each run's ``<role>-<run>`` (:func:`seqmask.text.artifacts.run_role`): its ``text-continual-<run>``,
``text-mine-<run>`` and ``text-mine-<run>-mlm-phase``."""
WRITES = (REPORT, SUMMARY, GATES, TABLE, XSIM_PLOT, MASKS)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The runs compared, against which baseline, the scoring the gates read, and what the masking page shows."""

    runs: tuple[tuple[str, int], ...]
    """``(strategy, seed)`` of each run."""
    baseline: str
    """The strategy the others are compared with (``text.comparison.baseline``)."""
    centre: bool
    """Whether the gates and first tables read the centred scoring (``text.mine.centre``)."""
    k: int
    """Neighbours in the ratio margin (``text.mine.k``), for the title."""
    gates: TextGates
    """When the comparison means something."""
    units: str
    """LEM's masking units (``text.continual.units``), for the masking page."""
    lem: LemParams
    """LEM's parameters (``text.continual.lem``), for the masking page."""


XSIM = Metric("xsim_error", "xSIM error %", scale=1.0)
P_AT_1 = Metric("p_at_1", "P@1 %", scale=1.0)
MASK_EXAMPLES = 6
"""Training sentences shown on the masking page."""


def results_of(mined: Mapping[str, Any], split: str, scoring: str) -> dict[str, dict[str, Any]]:
    """``mining.json`` as table results: group ``pair: direction`` -> metrics and ``pairs``."""
    return {
        f"{name}: {direction}": row
        for name, scorings in mined.get(split, {}).items()
        for direction, row in scorings[scoring].items()
    }


def build(ctx: StageContext) -> None:
    """``report.md`` (also ``summary.md``), ``gates.json``, ``table.json``, ``xsim.png`` and ``masks.md``."""
    config: Config = ctx.config
    runs = sorted((Run(strategy, seed) for strategy, seed in config.runs), key=lambda run: run.name)
    scoring = "centred" if config.centre else "raw"
    other = "raw" if scoring == "centred" else "centred"
    found = {run.name: mining(ctx, run_role(MINED, run.name)) for run in runs}
    phase_one = {run.name: mining(ctx, run_role(MINED, f"{run.name}-{MLM_PHASE_MINED}")) for run in runs}
    rows = ((UNTRAINED, UNTRAINED_MINED), (NGRAMS, NGRAMS_MINED), (BASE_ONLY, BASE_MINED))
    fixed = {name: mining(ctx, role) for name, role in rows}
    fixed = {name: mined for name, mined in fixed.items() if mined is not None}
    accuracy = {run.name: summary(ctx, run_role(CONTINUAL, run.name))["heldout_mlm_accuracy"] for run in runs}
    gates = _gates(runs, found, fixed, accuracy, scoring, config.gates, config.baseline)
    seeds = sorted({run.seed for run in runs})
    lines = [
        f"# LEM vs MLM+TLM: bitext mining (xSIM error, margin k={config.k}; seeds {', '.join(map(str, seeds))})",
        "",
        f"Scoring: **{scoring}**"
        f"{' (each language’s mean embedding subtracted before scoring)' if scoring == 'centred' else ''}; "
        f"the gates read it. Held-out masked-token accuracy (plain MLM on the validation sentences): "
        + ", ".join(f"{name} {100 * value:.1f}%" for name, value in accuracy.items())
        + ".",
        "",
        "Gates:",
        "",
        gates_markdown(gates),
    ]
    meaningful = all_hold(gates)
    for title, split, which, metric in (
        (f"Test, {scoring}", "test", scoring, XSIM),
        (f"Test, {other}", "test", other, XSIM),
        (f"Validation, {scoring}", "valid", scoring, XSIM),
        (f"Test P@1 (plain cosine), {scoring}", "test", scoring, P_AT_1),
    ):
        table = _table(runs, found, fixed, split, which, metric, meaningful, config.baseline)
        lines += [f"{title}: {metric.label}", "", table, ""]
    lines += [
        f"After the MLM phase only (before TLM), test, {scoring}: {XSIM.label}",
        "",
        _table(runs, phase_one, {}, "test", scoring, XSIM, meaningful, config.baseline),
        "",
        f"![xSIM error by strategy]({XSIM_PLOT})",
        "",
        f"What each strategy masks: [{MASKS}]({MASKS})",
        "",
    ]
    named = [*((f"{run.variant} s{run.seed}", found[run.name]) for run in runs), *fixed.items()]
    write_report(
        ctx.out,
        "\n".join(lines),
        gates,
        [
            {
                "model": name,
                "split": split,
                "scoring": which,
                "group": group,
                "xSIM error %": row["xsim_error"],
                "P@1 %": row["p_at_1"],
                "pairs": row["pairs"],
            }
            for name, mined in named
            for split in MINING_SPLITS
            for which in ("raw", "centred")
            for group, row in results_of(mined, split, which).items()
        ],
    )
    _plot(runs, found, fixed, scoring, config.baseline, ctx.out / XSIM_PLOT)
    (ctx.out / MASKS).write_text(_mask_page(ctx), encoding="utf-8")


def _table(
    runs: Sequence[Run],
    found: Mapping[str, Any],
    fixed: Mapping[str, Any],
    split: str,
    scoring: str,
    metric: Metric,
    meaningful: bool,
    baseline: str,
) -> str:
    results = [
        {"variant": run.variant, "seed": run.seed, "results": results_of(found[run.name], split, scoring)}
        for run in runs
    ]
    references = {name: results_of(mined, split, scoring) for name, mined in fixed.items()}
    if len({run.seed for run in runs}) > 1:
        return compare_table(
            results,
            metric,
            baseline=baseline,
            count="pairs",
            references=references,
            meaningful=meaningful,
        )
    return results_table({**{r["variant"]: r["results"] for r in results}, **references}, metric, count="pairs")


def _gates(
    runs: Sequence[Run],
    found: Mapping[str, Any],
    fixed: Mapping[str, Any],
    accuracy: Mapping[str, float],
    scoring: str,
    config: TextGates,
    baseline_variant: str,
) -> list[Gate]:
    """MLM+TLM below its untrained init by ``min_gain`` in every gated direction; below the n-gram floor in both
    directions of at least one gated pair; held-out masked-token accuracy above ``min_mlm_accuracy``."""
    baseline = [run.name for run in runs if run.variant == baseline_variant]
    reference = UNTRAINED if UNTRAINED in fixed else BASE_ONLY
    gates = []
    below_floor = []
    for pair in config.gated_pairs:
        directions = list(fixed[reference]["test"][pair][scoring]) if pair in fixed[reference].get("test", {}) else []
        if not directions:
            gates.append(Gate(f"test pair {pair} mined", False, "no such test pair"))
            continue
        pair_below = True
        for direction in directions:
            mean = statistics.mean(found[name]["test"][pair][scoring][direction]["xsim_error"] for name in baseline)
            start = fixed[reference]["test"][pair][scoring][direction]["xsim_error"]
            gates.append(
                Gate(
                    f"MLM+TLM beats its {reference} init by >= {config.min_gain:g} points: {pair} {direction} "
                    f"({scoring})",
                    start - mean >= config.min_gain,
                    f"{mean:.1f} vs {start:.1f}",
                )
            )
            floor = fixed[NGRAMS]["test"][pair][scoring][direction]["xsim_error"] if NGRAMS in fixed else None
            pair_below = pair_below and floor is not None and mean < floor
        below_floor.append((pair, pair_below))
    gates.append(
        Gate(
            f"MLM+TLM below the char n-gram floor both ways on at least one of {', '.join(config.gated_pairs)}",
            any(ok for _, ok in below_floor),
            ", ".join(f"{pair}: {'yes' if ok else 'no'}" for pair, ok in below_floor),
        )
    )
    held = [accuracy[name] for name in baseline]
    gates.append(
        Gate(
            f"MLM+TLM held-out masked-token accuracy > {100 * config.min_mlm_accuracy:g}%",
            statistics.mean(held) > config.min_mlm_accuracy,
            f"{100 * statistics.mean(held):.1f}%",
        )
    )
    return gates


def _plot(
    runs: Sequence[Run],
    found: Mapping[str, Any],
    fixed: Mapping[str, Any],
    scoring: str,
    baseline: str,
    path: Path,
) -> None:
    """Test xSIM error per direction: each fixed row, and each strategy's mean with its std over seeds."""
    groups = sorted(results_of(next(iter(fixed.values())) if fixed else found[runs[0].name], "test", scoring))
    series: dict[str, list[list[float]]] = {
        name: [[results_of(mined, "test", scoring)[g]["xsim_error"]] for g in groups] for name, mined in fixed.items()
    }
    for variant in dict.fromkeys(run.variant for run in runs):
        names = [run.name for run in runs if run.variant == variant]
        series["MLM+TLM" if variant == baseline else f"{variant.upper()}-MLM+{variant.upper()}-TLM"] = [
            [results_of(found[name], "test", scoring)[g]["xsim_error"] for name in names] for g in groups
        ]
    error_bars_plot(groups, series, path, ylabel=f"test xSIM error % ({scoring})")


def _mask_page(ctx: StageContext) -> str:
    """A few training sentences with entities, and the pieces each strategy masks in them (seed 0, before 80/10/10)."""
    vocab, tagged = vocabulary(ctx), tags(ctx)
    per = ctx.config.units
    lines = [
        "# What each strategy masks",
        "",
        (
            f"Units: one sub-token per {'entity span' if per == 'span' else 'entity word'}. "
            "**Bold** pieces are masked; tags: E entity, N noun, V verb."
        ),
        "",
    ]
    shown: dict[str, int] = {}
    for sentence in monolingual(ctx):
        words = tagged.get((sentence.language, sentence.text), [])
        if (
            shown.get(sentence.language, 0) >= MASK_EXAMPLES // 3
            or not any(w.kind == ENTITY for w in words)
            or len(words) < 5
        ):
            continue
        shown[sentence.language] = shown.get(sentence.language, 0) + 1
        encoded = encode([(sentence.language, sentence.text)], vocab, tagged, per)[(sentence.language, sentence.text)]
        tagged_words = " ".join(f"{sentence.text[w.start : w.end]}/{KINDS[w.kind][0].upper()}" for w in words)
        lines += [f"## {sentence.language}: {sentence.text}", "", f"tags: {tagged_words}", ""]
        batch = make_batch([((encoded,), (0,))], vocab, 512)
        for strategy in ("mlm", "lem"):
            masked = choose(batch, strategy, ctx.config.lem, vocab, torch.Generator().manual_seed(0))[0]  # (L,)
            pieces = [
                f"**{vocab.token(int(i))}**" if m else vocab.token(int(i)) for i, m in zip(batch.input_ids[0], masked)
            ]
            lines += [f"- {strategy}: {' '.join(pieces[1:-1])}"]
        lines.append("")
    return "\n".join(lines) + "\n"
