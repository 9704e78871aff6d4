"""Stage ``report``: WER and CER tables over the runs (mean and std over seeds, change against random) and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file

from seqmask.eval.report import loss_curves_plot, mask_plot
from seqmask.eval.wer import METRICS
from seqmask.experiment.runs import Run
from seqmask.experiment.tables import compare_table, results_table
from seqmask.masking.ask2mask import ask2mask_mask
from seqmask.masking.spans import random_span_mask
from seqmask.speech.config import BASELINE
from seqmask.speech.stages.inputs import labelled, utterances, write_json

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``report.md`` (also ``summary.md``), ``runs.json``, ``table.json`` (a row per run and group),
    ``pretrain_loss.png`` and ``masks.png``."""
    runs = sorted((Run(variant, seed) for variant, seed in ctx.config["runs"]), key=lambda run: run.name)
    results = [
        {"variant": run.variant, "seed": run.seed, "results": json.loads((ctx.input_path(f"evaluate-{run.name}") / "wer.json").read_text())}
        for run in runs
    ]
    seeds = sorted({run.seed for run in runs})
    lines = [f"# Ask2Mask (seeds {', '.join(map(str, seeds))}; espeak = synthetic speech)"]
    for metric in METRICS:
        if len(seeds) > 1:
            table = compare_table(results, metric, baseline=BASELINE)
        else:
            table = results_table({result["variant"]: result["results"] for result in results}, metric)
        lines += ["", f"{metric.label}:", "", table]
    report = "\n".join(lines) + "\n"
    (ctx.out / "report.md").write_text(report, encoding="utf-8")
    (ctx.out / "summary.md").write_text(report, encoding="utf-8")
    write_json(ctx.out / "runs.json", results)
    write_json(ctx.out / "table.json", [
        {"variant": result["variant"], "seed": result["seed"], "group": group, **{m.label: round(m.scale * rates[m.key], 2) for m in METRICS}}
        for result in results for group, rates in result["results"].items()
    ])
    curves = {run.name: ctx.input_path(f"pretrain-{run.name}") / "metrics.jsonl" for run in runs if run.variant != "none"}
    if curves:
        loss_curves_plot(curves, ctx.out / "pretrain_loss.png")
    _plot_masks(ctx, ctx.out / "masks.png")


def _plot_masks(ctx: StageContext, path: Path) -> None:
    """The random and the Ask2Mask mask of the longest labelled training utterance, on its spectrogram."""
    utterance = max(labelled(utterances(ctx, ("train",))), key=lambda u: u.encoder_frames)
    scores = load_file(str(ctx.input_path("scores") / "scores.safetensors"))[utterance.id].float()  # (S,)
    params = ctx.config["mask"]
    lengths = torch.tensor([utterance.encoder_frames])  # (1,)
    generator = torch.Generator().manual_seed(0)
    random = random_span_mask(lengths, utterance.encoder_frames, span_len=params.span_len, max_mask_prob=params.max_mask_prob,
                              min_num_spans=params.min_num_spans, generator=generator)[0]  # (S,)
    guided = ask2mask_mask(lengths, scores[None, : utterance.encoder_frames], params, generator)[0]  # (S,)
    mask_plot(utterance.feats.float(), scores, {"random": random, "ask2mask": guided}, path, title=f"{utterance.id}: {utterance.text}")
