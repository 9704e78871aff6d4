"""Stage ``motion-report``: the gates, the metric tables over the runs (mean ± std over seeds, change against the
baseline) with the floors and real motion beside them, every FID with its bootstrap interval, FID by mask ratio, the
renders. Its report files are the comparison kit's (:func:`seqmask.experiment.comparison.write_report`)."""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqmask.eval.report import ratio_plot
from seqmask.experiment.comparison import REPORT_FILES, write_report
from seqmask.experiment.gates import Gate, all_hold, gates_markdown
from seqmask.experiment.runs import Run
from seqmask.experiment.tables import Metric, compare_table
from seqmask.files import DIGESTS_FILE, LINEAGE_FILE
from seqmask.motion.artifacts import BVH, EVALUATE, EVALUATOR, FID_BY_RATIO, GIF, PNG, RENDER, RENDERS
from seqmask.motion.config import MotionGates
from seqmask.motion.readers import real_scores, render_index, run_metrics, run_renders

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (EVALUATOR, EVALUATE, RENDER)
"""``evaluator``, and per run ``motion-evaluate-<run>`` and (rendered runs) ``motion-render-<run>``
(:func:`seqmask.motion.artifacts.run_role`)."""
WRITES = (*REPORT_FILES, FID_BY_RATIO)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What the report reads besides its inputs."""

    runs: tuple[tuple[str, int], ...]
    """Every run as ``(variant, seed)``, in the order of the tables."""
    baseline: str
    """The variant the others are compared with and the gates hold for."""
    variants: tuple[tuple[str, str, float], ...]
    """Every variant as ``(name, mask kind, mask ratio)``."""
    default_ratio: Mapping[str, float]
    """Each mask kind's configured ratio: the runs at it are the test tables' (the others, the ratio study's)."""
    gates: MotionGates
    """When the comparison means something."""


FID = Metric("fid", "FID ↓", scale=1.0, digits=3)
METRICS = (
    FID,
    Metric("r1", "R@1 ↑", scale=1.0, digits=3),
    Metric("r3", "R@3 ↑", scale=1.0, digits=3),
    Metric("mm_dist", "MM-Dist ↓", scale=1.0, digits=3),
    Metric("diversity", "Diversity →", scale=1.0, digits=3),
    Metric("multimodality", "MModality ↑", scale=1.0, digits=3),
)
GROUPS = ("all", "seen pair", "unseen pair")


def flat(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A split's scored groups as table results: R-precision as ``r1``..``r3``."""
    found = {}
    for group, scored in groups.items():
        r = scored.get("r_precision") or [None] * 3
        found[group] = {**{k: v for k, v in scored.items() if k != "r_precision"}, "r1": r[0], "r2": r[1], "r3": r[2]}
    return found


def build(ctx: StageContext) -> None:
    """``report.md`` (also ``summary.md``), ``gates.json``, ``table.json``, ``fid_by_ratio.png`` and the seed-0
    renders."""
    config: Config = ctx.config
    baseline = config.baseline
    runs = [Run(variant, seed) for variant, seed in config.runs]
    ratios = {variant: (kind, ratio) for variant, kind, ratio in config.variants}
    real = real_scores(ctx)
    metrics = {run.name: run_metrics(ctx, run.name) for run in runs}
    main = [run for run in runs if ratios[run.variant][1] == config.default_ratio[ratios[run.variant][0]]]
    gates = _gates(main, metrics, real, config.gates, baseline)
    meaningful = all_hold(gates)
    seeds = sorted({run.seed for run in main})
    lines = [
        f"# MMDM vs MDM on Bandai-Namco-Research-Motiondataset-1 (test; seeds {', '.join(map(str, seeds))})",
        "",
        (
            f"Sampling: {metrics[runs[0].name]['sampler']}, guidance {metrics[runs[0].name]['guidance']}; every "
            f"generated set holds one motion per test window and sampling seed. Test: {real['test']['windows']} "
            f"windows of {real['test']['captions']} captions, {real['test']['seen_pair_captions']} of them (content, "
            f"style) pairs seen in training ({real['test']['seen_pair_windows']} windows)."
        ),
        "",
        "Gates:",
        "",
        gates_markdown(gates),
    ]
    references = {
        "real motion": flat({"all": real["test"]}),
        **{name: {"all": floor} for name, floor in real["test"]["floors"].items()},
    }
    for metric in METRICS:
        results = [
            {"variant": run.variant, "seed": run.seed, "results": flat(metrics[run.name]["test"])} for run in main
        ]
        refs = {name: found for name, found in references.items() if metric is FID or name == "real motion"}
        lines += [
            f"## {metric.label} (test)",
            "",
            compare_table(results, metric, baseline=baseline, count="windows", references=refs, meaningful=meaningful),
            "",
        ]
    valid = [{"variant": run.variant, "seed": run.seed, "results": flat(metrics[run.name]["valid"])} for run in runs]
    valid_floors = {name: {"all": floor} for name, floor in real["valid"]["floors"].items()}
    lines += [
        "## FID on valid (settings are chosen here)",
        "",
        compare_table(valid, FID, baseline=baseline, count="windows", references=valid_floors, meaningful=meaningful),
        "",
    ]
    lines += [
        "## Every FID with its 95% bootstrap interval (test, all windows)",
        "",
        "| run | FID | interval | R@3 |",
        "|:---|---:|---:|---:|",
    ]
    for run in runs:
        scored = metrics[run.name]["test"]["all"]
        lines.append(
            f"| {run.name} | {scored['fid']:.3f} | [{scored['fid_low']:.3f}, {scored['fid_high']:.3f}] | "
            f"{_r3(scored):s} |"
        )
    for name, floor in real["test"]["floors"].items():
        lines.append(f"| floor: {name} | {floor['fid']:.3f} | [{floor['fid_low']:.3f}, {floor['fid_high']:.3f}] | – |")
    lines += ["", f"![FID by mask ratio]({FID_BY_RATIO})", "", "## Generated beside real (seed 0)", ""]
    lines += _renders(ctx, runs)
    write_report(
        ctx.out,
        "\n".join(lines) + "\n",
        gates,
        [
            {
                "run": run.name,
                "split": split,
                "group": group,
                **{m.label: flat(metrics[run.name][split]).get(group, {}).get(m.key) for m in METRICS},
            }
            for run in runs
            for split in ("valid", "test")
            for group in GROUPS
        ],
    )
    _plot(runs, ratios, metrics, baseline, ctx)


def _r3(scored: Mapping[str, Any]) -> str:
    return f"{scored['r_precision'][2]:.3f}" if scored.get("r_precision") else "–"


def _gates(
    main: Sequence[Run], metrics: Mapping[str, Any], real: Mapping[str, Any], config: MotionGates, baseline: str
) -> list[Gate]:
    """The evaluator separates real test windows; the baseline's FID beats the floors by the configured shares; its R@3
    holds."""
    names = [run.name for run in main if run.variant == baseline]
    fid = statistics.mean(metrics[name]["test"]["all"]["fid"] for name in names)
    r3 = statistics.mean(metrics[name]["test"]["all"]["r_precision"][2] for name in names)
    floors = real["test"]["floors"]
    real_r3 = real["test"]["r_precision"][2] if real["test"]["r_precision"] else 0.0
    return [
        Gate(
            f"evaluator R@3 on real test windows >= {config.evaluator_r3:g}",
            real_r3 >= config.evaluator_r3,
            f"{real_r3:.3f}",
        ),
        Gate(
            f"{baseline} FID <= {config.static_floor_share:g} x static-pose floor",
            fid <= config.static_floor_share * floors["static pose"]["fid"],
            f"{fid:.3f} vs {config.static_floor_share * floors['static pose']['fid']:.3f}",
        ),
        Gate(
            f"{baseline} FID <= {config.other_caption_share:g} x other-caption floor",
            fid <= config.other_caption_share * floors["other caption"]["fid"],
            f"{fid:.3f} vs {config.other_caption_share * floors['other caption']['fid']:.3f}",
        ),
        Gate(f"{baseline} generated R@3 >= {config.generated_r3:g}", r3 >= config.generated_r3, f"{r3:.3f}"),
    ]


def _renders(ctx: StageContext, runs: Sequence[Run]) -> list[str]:
    """Copies of the seed-0 renders, linked with their captions."""
    lines = []
    for run in runs:
        renders = run_renders(ctx, run.name)
        if renders is None:
            continue
        folder = f"{RENDERS}/{run.name}"
        shutil.copytree(renders, ctx.out / folder, ignore=shutil.ignore_patterns(LINEAGE_FILE, DIGESTS_FILE))
        for item in render_index(renders):
            lines.append(
                f"- {run.name}, “{item['caption']}” (real: {item['clip']}): [GIF]({folder}/{item[GIF]})"
                f" · [frames]({folder}/{item[PNG]}) · [BVH]({folder}/{item[BVH]})"
            )
    return lines


def _plot(
    runs: Sequence[Run],
    ratios: Mapping[str, tuple[str, float]],
    metrics: Mapping[str, Any],
    baseline: str,
    ctx: StageContext,
) -> None:
    """Valid FID against the mask ratio, per masked kind (mean ± std over the seeds at each ratio), and the baseline."""
    series: dict[str, dict[float, list[float]]] = {}
    baselines = []
    for run in runs:
        kind, ratio = ratios[run.variant]
        value = metrics[run.name]["valid"]["all"]["fid"]
        if run.variant == baseline:
            baselines.append(value)
        else:
            series.setdefault(kind, {}).setdefault(ratio, []).append(value)
    label = f"{baseline} (no mask)" if ratios[baseline][0] == "none" else baseline
    ratio_plot(series, baselines, ctx.out / FID_BY_RATIO, ylabel="valid FID", baseline_label=label)
