"""MMDM speed: a training step with each mask against none (target >= 0.97 of its throughput), and DDIM against full
DDPM sampling (motions per second, and the FID cost of the shortcut).

    .venv/bin/python bench/motion_speed.py [--rounds 5] [--steps 20] [--store DIR]

Training: the ``small`` denoiser (3 x 96) on batches of 32 real-shaped windows (60 frames,
63 features, 5 parts), one thread; rounds alternate the masks and the median steps per
second is printed with each mask's ratio to none. Sampling: with ``--store`` (or
``SEQMASK_HOME``) holding a finished ``seqmask run motion``, its ``none`` denoiser
generates one motion per test window with DDIM (50 steps) and DDPM (1,000 steps), and the
run's evaluator scores both against the real test windows (FID with its bootstrap interval).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from seqmask.masking.config import MotionMaskParams
from seqmask.motion.config import DenoiserConfig
from seqmask.motion.diffusion import cosine_alphas_cumprod
from seqmask.motion.diffusion_unit import DiffusionUnit, sample_motions
from seqmask.motion.models import build_denoiser
from seqmask.motion.prep import WindowRecord
from seqmask.motion.windows import Skeleton, Windows
from seqmask.training.config import TrainingConfig
from seqmask.training.loop import optimizer_for, train_step

PARTS = (tuple(range(15)), tuple(range(15, 27)), tuple(range(27, 39)), tuple(range(39, 51)), tuple(range(51, 63)))
SKELETON = Skeleton(tuple(f"j{i}" for i in range(21)), tuple(range(-1, 20)), ("torso", "left arm", "right arm", "left leg", "right leg"),
                    PARTS, 63, 20, 60)
MASKS = {"none": MotionMaskParams(kind="none"), "time": MotionMaskParams(kind="time", ratio=0.3), "body": MotionMaskParams(kind="body", ratio=0.3)}


def steps_per_second(mask: MotionMaskParams, steps: int) -> float:
    """Optimizer steps per second of the ``small`` denoiser with ``mask``."""
    generator = torch.Generator().manual_seed(0)
    records = [WindowRecord(clip=str(i), start=0, length=60, content="bow", style="sad") for i in range(256)]
    windows = Windows(torch.randn(256, 60, 63, generator=generator), torch.full((256,), 60), records)
    torch.manual_seed(0)
    unit = DiffusionUnit(build_denoiser(DenoiserConfig(), SKELETON, 128), windows, torch.randn(256, 3, 128, generator=generator), mask=mask,
                         alphas_cumprod=cosine_alphas_cumprod(1000), condition_dropout=0.1, batch_size=32, seed=0, device=torch.device("cpu"))
    config = TrainingConfig(steps=1000, warmup_steps=10)
    optimizer, scheduler = optimizer_for(unit.model, config)
    batches = unit.epoch(generator)
    train_step(unit, batches[0], 1, optimizer, scheduler, config, torch.device("cpu"))  # warm-up
    started = time.perf_counter()
    for step in range(steps):
        train_step(unit, batches[(step + 1) % len(batches)], step + 2, optimizer, scheduler, config, torch.device("cpu"))
    return steps / (time.perf_counter() - started)


def training(rounds: int, steps: int) -> None:
    found: dict[str, list[float]] = {name: [] for name in MASKS}
    for _ in range(rounds):
        for name, mask in MASKS.items():
            found[name].append(steps_per_second(mask, steps))
    base = statistics.median(found["none"])
    print(f"| mask | steps/s (median of {rounds} rounds) | ratio to none |\n|:---|---:|---:|")
    for name, values in found.items():
        print(f"| {name} | {statistics.median(values):.2f} | {statistics.median(values) / base:.3f} |")


def sampling(store: Path) -> None:
    import numpy as np

    from seqmask.motion.contrastive import embed_motions
    from seqmask.motion.models import load_denoiser, load_evaluator, load_text_encoder
    from seqmask.motion.scoring import fid_with_interval
    from seqmask.motion.stages.evaluator import embed_real
    from seqmask.motion.windows import load_windows
    from seqmask.runlog import latest_runs
    from seqmask.store import ArtifactStore

    artifacts = ArtifactStore(store)
    record = next((r for r in latest_runs(store / "runs", 50) if r["flow"] in ("motion", "motion-compare") and r["state"] == "completed"), None)
    if record is None:
        print(f"no finished motion run in {store}: sampling part skipped")
        return
    path = {name: artifacts.ref(stage["key"]).path for name, stage in record["stages"].items() if stage.get("key")}
    prep, model_dir = path["motion-prep"], path["motion-train-none-s0"]
    skeleton = Skeleton.load(prep)
    encoder = load_text_encoder(model_dir / "text_encoder", skeleton.features)
    trained = load_denoiser(model_dir / "model", skeleton)
    judge, vocabulary = load_evaluator(path["motion-evaluator"] / "model", skeleton)
    test = load_windows(prep, "test")
    conditions = encoder.embed([test.caption(i) for i in range(len(test.records))])
    real, _ = embed_real(judge, vocabulary, test)
    print(f"\n| sampler | steps | motions/s | FID (95% interval), {len(real)} test windows |\n|:---|---:|---:|---:|")
    for name, steps, eta in (("DDIM", min(50, trained.diffusion_steps), 0.0), ("DDPM", trained.diffusion_steps, 1.0)):
        started = time.perf_counter()
        motions = sample_motions(trained, conditions, skeleton.window, guidance=2.5, steps=steps, eta=eta, seed=0, device=torch.device("cpu"))
        rate = len(motions) / (time.perf_counter() - started)
        generated = embed_motions(judge, motions, torch.full((len(motions),), skeleton.window), torch.device("cpu")).numpy()
        scored = fid_with_interval(real, np.asarray(generated), resamples=200)
        print(f"| {name} | {steps} | {rate:.2f} | {scored['fid']:.3f} [{scored['fid_low']:.3f}, {scored['fid_high']:.3f}] |")


def main() -> None:
    from seqmask.store import default_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--store", type=Path, default=default_root(), help="the store of a finished motion run (default: $SEQMASK_HOME)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    training(args.rounds, args.steps)
    sampling(args.store)


if __name__ == "__main__":
    main()
