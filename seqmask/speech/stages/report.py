"""Stage ``speech-report``: the gates, then WER and CER tables over the runs (mean and std over seeds, change against
the baseline) with the supervised references beside them, and plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file

from seqmask.eval.report import loss_curves_plot, mask_plot
from seqmask.eval.wer import METRICS
from seqmask.experiment.comparison import GATES, REPORT, SUMMARY, TABLE, write_report
from seqmask.experiment.gates import (
    Gate,
    all_hold,
    at_most,
    gates_markdown,
    lower_by_a_std,
)
from seqmask.experiment.runs import Run
from seqmask.experiment.tables import compare_table, results_table
from seqmask.files import write_json
from seqmask.masking.ask2mask import ask2mask_mask
from seqmask.masking.spans import random_span_mask
from seqmask.speech import artifacts, readers
from seqmask.speech.config import NO_PRETRAINING
from seqmask.speech.utterances import utterances

if TYPE_CHECKING:
    from seqmask.masking.params.spans import Ask2MaskParams
    from seqmask.speech.config import ReferenceConfig, SpeechDataConfig
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits", "features", "scores", artifacts.EVALUATE, artifacts.PRETRAIN)
"""The last two per run: ``speech-evaluate-<run>`` of every run and reference, ``speech-pretrain-<run>`` of every run
that pretrains (:func:`seqmask.speech.artifacts.run_role`)."""
WRITES = (REPORT, SUMMARY, GATES, TABLE, artifacts.RUNS, artifacts.MASKS_PLOT)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The runs compared, against which baseline, and what the tables and plots say about them."""

    runs: tuple[tuple[str, int], ...]
    """Every run as ``(variant, seed)``."""
    baseline: str
    """The variant the others are compared with (``speech.comparison.baseline``)."""
    mask: Ask2MaskParams
    """The span masking the masks plot draws (``speech.pretrain.mask``)."""
    data: SpeechDataConfig
    """The target and pretraining corpora, for the title (``speech.data``)."""
    references: tuple[ReferenceConfig, ...]
    """The references whose corpora run, with their gates (``speech.references``)."""


def build(ctx: StageContext) -> None:
    """The report contract's files (report, summary, gates and a table row per run and group), every run's results,
    the masks plot and, when a run pretrains, its loss curves."""
    baseline = ctx.config.baseline
    runs = sorted((Run(variant, seed) for variant, seed in ctx.config.runs), key=lambda run: run.name)
    results = [{"variant": run.variant, "seed": run.seed, "results": _error_rates(ctx, run.name)} for run in runs]
    reference_results = {
        f"reference {ref.corpus}": _error_rates(ctx, f"reference-{ref.corpus}") for ref in ctx.config.references
    }
    gates = _gates(results, reference_results, ctx.config.references, baseline)
    # beside the variants: each reference on its own corpus's groups (a pooled row is the target's, not theirs)
    references = {
        name: {group: rates for group, rates in found.items() if "/" in group}
        for name, found in reference_results.items()
    }
    seeds = sorted({run.seed for run in runs})
    data = ctx.config.data
    lines = [
        f"# Ask2Mask (seeds {', '.join(map(str, seeds))}; target {', '.join(data.target)}, pretraining audio "
        f"{', '.join(data.pretrain)}; espeak = synthetic speech)",
        "",
        "Gates:",
        "",
        gates_markdown(gates),
    ]
    for metric in METRICS:
        if len(seeds) > 1:
            table = compare_table(results, metric, baseline=baseline, references=references, meaningful=all_hold(gates))
        else:
            table = results_table({**{r["variant"]: r["results"] for r in results}, **references}, metric)
        lines += [f"{metric.label}:", "", table]
    named = [*((f"{r['variant']} s{r['seed']}", r["results"]) for r in results), *reference_results.items()]
    rows = [
        {
            "model": name,
            "group": group,
            **{m.label: round(m.scale * rates[m.key], 2) for m in METRICS if rates[m.key] is not None},
        }
        for name, found in named
        for group, rates in found.items()
    ]
    write_report(ctx.out, "\n".join(lines), gates, rows)
    write_json(ctx.out / artifacts.RUNS, results)
    curves = {
        run.name: readers.metrics_file(ctx.input_path(artifacts.run_role(artifacts.PRETRAIN, run.name)))
        for run in runs
        if run.variant != NO_PRETRAINING
    }
    if curves:
        loss_curves_plot(curves, ctx.out / artifacts.LOSS_PLOT)
    _plot_masks(ctx, ctx.out / artifacts.MASKS_PLOT)


def _error_rates(ctx: StageContext, name: str) -> dict[str, Any]:
    """The error rates of the evaluation of ``name`` (a run, or ``reference-<corpus>``)."""
    return readers.read_wer(ctx.input_path(artifacts.run_role(artifacts.EVALUATE, name)))


def _gates(
    results: list[dict[str, Any]],
    references: dict[str, dict[str, Any]],
    config: tuple[ReferenceConfig, ...],
    baseline: str,
) -> list[Gate]:
    """Each reference under its ceiling on its own ``valid``; baseline pretraining below no pretraining on the target's
    ``valid`` WER."""
    gates = []
    for ref in config:
        found = references[f"reference {ref.corpus}"].get("valid", {}).get(ref.metric)
        name = f"reference {ref.corpus} (all labels, no pretraining): valid {ref.metric.upper()} % <= {ref.max_valid:g}"
        gates.append(at_most(name, None if found is None else 100 * found, ref.max_valid))
    by_variant: dict[str, list[float]] = {}
    for result in results:
        wer = result["results"].get("valid", {}).get("wer")
        if wer is not None:
            by_variant.setdefault(result["variant"], []).append(100 * wer)
    if NO_PRETRAINING in by_variant or baseline in by_variant:
        gates.append(
            lower_by_a_std(
                f"{baseline} pretraining beats {NO_PRETRAINING}: valid WER % lower by more than one std",
                by_variant.get(baseline, []),
                by_variant.get(NO_PRETRAINING, []),
            )
        )
    return gates


def _plot_masks(ctx: StageContext, path: Path) -> None:
    """The random and the Ask2Mask mask of the longest pretraining utterance, on its spectrogram."""
    scores = load_file(str(readers.scores_file(ctx.input_path("scores"))))
    utterance = max((u for u in utterances(ctx, ("train",)) if u.id in scores), key=lambda u: u.encoder_frames)
    confidence = scores[utterance.id].float()  # (S,)
    params = ctx.config.mask
    lengths = torch.tensor([utterance.encoder_frames])  # (1,)
    generator = torch.Generator().manual_seed(0)
    random = random_span_mask(
        lengths,
        utterance.encoder_frames,
        span_len=params.span_len,
        max_mask_prob=params.max_mask_prob,
        min_num_spans=params.min_num_spans,
        generator=generator,
    )[0]  # (S,)
    guided = ask2mask_mask(lengths, confidence[None, : utterance.encoder_frames], params, generator)[0]  # (S,)
    title = f"{utterance.id}: {utterance.text}" if utterance.text else utterance.id
    mask_plot(utterance.feats.float(), confidence, {"random": random, "ask2mask": guided}, path, title=title)
