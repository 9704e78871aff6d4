"""Stage ``report``: the gates, then WER and CER tables over the runs (mean and std over seeds, change against
random) with the supervised references beside them, and plots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file


from seqmask.files import write_json
from seqmask.eval.report import loss_curves_plot, mask_plot
from seqmask.eval.wer import METRICS
from seqmask.experiment.gates import (
    Gate,
    all_hold,
    at_most,
    gates_markdown,
    lower_by_a_std,
)
from seqmask.experiment.runs import Run
from seqmask.experiment.tables import compare_table, results_table
from seqmask.masking.ask2mask import ask2mask_mask
from seqmask.masking.spans import random_span_mask
from seqmask.speech.config import BASELINE, NO_PRETRAINING
from seqmask.speech.stages.inputs import utterances

if TYPE_CHECKING:
    from seqmask.speech.config import ReferenceConfig
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``report.md`` (also ``summary.md``), ``runs.json``, ``gates.json``, ``table.json`` (a row per run and group),
    ``pretrain_loss.png`` and ``masks.png``."""
    runs = sorted((Run(variant, seed) for variant, seed in ctx.config["runs"]), key=lambda run: run.name)
    results = [{"variant": run.variant, "seed": run.seed, "results": _read(ctx, f"evaluate-{run.name}")} for run in runs]
    reference_results = {f"reference {ref.corpus}": _read(ctx, f"evaluate-reference-{ref.corpus}") for ref in ctx.config["references"]}
    gates = _gates(results, reference_results, ctx.config["references"])
    # beside the variants: each reference on its own corpus's groups (a pooled row is the target's, not theirs)
    references = {name: {group: rates for group, rates in found.items() if "/" in group} for name, found in reference_results.items()}
    seeds = sorted({run.seed for run in runs})
    data = ctx.config["data"]
    lines = [
        f"# Ask2Mask (seeds {', '.join(map(str, seeds))}; target {', '.join(data.target)}, pretraining audio "
        f"{', '.join(data.pretrain)}; espeak = synthetic speech)",
        "", "Gates:", "", gates_markdown(gates),
    ]
    for metric in METRICS:
        if len(seeds) > 1:
            table = compare_table(results, metric, baseline=BASELINE, references=references, meaningful=all_hold(gates))
        else:
            table = results_table({**{r["variant"]: r["results"] for r in results}, **references}, metric)
        lines += [f"{metric.label}:", "", table]
    report = "\n".join(lines)
    (ctx.out / "report.md").write_text(report, encoding="utf-8")
    (ctx.out / "summary.md").write_text(report, encoding="utf-8")
    write_json(ctx.out / "runs.json", results)
    write_json(ctx.out / "gates.json", [dataclasses.asdict(gate) for gate in gates])
    named = [*((f"{r['variant']} s{r['seed']}", r["results"]) for r in results), *reference_results.items()]
    write_json(ctx.out / "table.json", [
        {"model": name, "group": group, **{m.label: round(m.scale * rates[m.key], 2) for m in METRICS if rates[m.key] is not None}}
        for name, found in named for group, rates in found.items()
    ])
    curves = {run.name: ctx.input_path(f"pretrain-{run.name}") / "metrics.jsonl" for run in runs if run.variant != NO_PRETRAINING}
    if curves:
        loss_curves_plot(curves, ctx.out / "pretrain_loss.png")
    _plot_masks(ctx, ctx.out / "masks.png")


def _read(ctx: StageContext, role: str) -> dict[str, Any]:
    return json.loads((ctx.input_path(role) / "wer.json").read_text(encoding="utf-8"))


def _gates(results: list[dict[str, Any]], references: dict[str, dict[str, Any]], config: list[ReferenceConfig]) -> list[Gate]:
    """Each reference under its ceiling on its own ``valid``; random pretraining below no pretraining on the target's ``valid`` WER."""
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
    if NO_PRETRAINING in by_variant or BASELINE in by_variant:
        gates.append(lower_by_a_std(
            f"{BASELINE} pretraining beats {NO_PRETRAINING}: valid WER % lower by more than one std",
            by_variant.get(BASELINE, []), by_variant.get(NO_PRETRAINING, []),
        ))
    return gates


def _plot_masks(ctx: StageContext, path: Path) -> None:
    """The random and the Ask2Mask mask of the longest pretraining utterance, on its spectrogram."""
    scores = load_file(str(ctx.input_path("scores") / "scores.safetensors"))
    utterance = max((u for u in utterances(ctx, ("train",)) if u.id in scores), key=lambda u: u.encoder_frames)
    confidence = scores[utterance.id].float()  # (S,)
    params = ctx.config["mask"]
    lengths = torch.tensor([utterance.encoder_frames])  # (1,)
    generator = torch.Generator().manual_seed(0)
    random = random_span_mask(lengths, utterance.encoder_frames, span_len=params.span_len, max_mask_prob=params.max_mask_prob,
                              min_num_spans=params.min_num_spans, generator=generator)[0]  # (S,)
    guided = ask2mask_mask(lengths, confidence[None, : utterance.encoder_frames], params, generator)[0]  # (S,)
    title = f"{utterance.id}: {utterance.text}" if utterance.text else utterance.id
    mask_plot(utterance.feats.float(), confidence, {"random": random, "ask2mask": guided}, path, title=title)
