"""Figures for papers: pretraining loss curves and masks drawn on a spectrogram."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from torch import Tensor


def loss_curves_plot(metrics: Mapping[str, Path], path: Path) -> None:
    """Pretraining loss against step, one line per run (``metrics.jsonl`` files)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, metrics_path in sorted(metrics.items()):
        rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("pretraining loss per target")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def mask_plot(feats: Tensor, scores: Tensor, masks: Mapping[str, Tensor], path: Path, *, title: str) -> None:
    """Filterbanks (F, 80) with the scorer's confidence (S,) and each mask (S,) at 20 ms frames below."""
    frames = scores.shape[0]
    fig, axes = plt.subplots(
        2 + len(masks),
        1,
        figsize=(8, 2 + 0.6 * len(masks)),
        sharex=True,
        gridspec_kw={"height_ratios": [4, 1] + [0.6] * len(masks)},
    )
    extent = (0, frames, 0, feats.shape[1])
    axes[0].imshow(feats.T.numpy(), origin="lower", aspect="auto", extent=extent, cmap="magma")  # (80, F)
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(title[:90], fontsize=8)
    axes[1].plot(scores.numpy(), color="black", linewidth=0.8)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("conf.", fontsize=7)
    for ax, (name, mask) in zip(axes[2:], masks.items()):
        ax.imshow(mask[None, :].float().numpy(), aspect="auto", cmap="Greys", vmin=0, vmax=1, extent=(0, frames, 0, 1))
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=7)
    axes[-1].set_xlabel("encoder frame (20 ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def error_bars_plot(
    groups: Sequence[str], series: Mapping[str, Sequence[Sequence[float]]], path: Path, *, ylabel: str
) -> None:
    """Grouped bars: per group, one bar per series at the mean of its values, with their std as an error bar."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups)), 3.8))
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        means = [float(np.mean(v)) for v in values]
        stds = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in values]
        ax.bar(np.arange(len(groups)) + index * width, means, width, yerr=stds, label=name, capsize=2)
    ax.set_xticks(np.arange(len(groups)) + width * (len(series) - 1) / 2)
    ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def ratio_plot(
    series: Mapping[str, Mapping[float, Sequence[float]]],
    baseline: Sequence[float],
    path: Path,
    *,
    ylabel: str,
    baseline_label: str,
) -> None:
    """A metric against a ratio: per series the mean over its values at each ratio (std as error bars), the baseline as
    a band."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, by_ratio in series.items():
        ratios = sorted(by_ratio)
        means = [float(np.mean(by_ratio[r])) for r in ratios]
        stds = [float(np.std(by_ratio[r], ddof=1)) if len(by_ratio[r]) > 1 else 0.0 for r in ratios]
        ax.errorbar(ratios, means, yerr=stds, marker="o", capsize=3, label=name)
    mean, std = float(np.mean(baseline)), float(np.std(baseline, ddof=1)) if len(baseline) > 1 else 0.0
    ax.axhline(mean, color="k", linestyle="--", label=baseline_label)
    if std:
        ax.axhspan(mean - std, mean + std, color="k", alpha=0.1)
    ax.set_xlabel("mask ratio")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
