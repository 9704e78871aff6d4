"""MMDM speed: a training step with each mask against none (target >= 0.97 of its throughput), and DDIM against full
DDPM sampling (motions per second, and the FID cost of the shortcut).

    .venv/bin/python bench/motion_speed.py [--preset small] [--rounds 5] [--steps 20] [--store DIR] [--quick]

Training: the preset's denoiser (``small``: 3 x 96), masks (none, time 30%, body 30%), diffusion steps, batch size
(32) and condition dropout, on batches of real-shaped windows (60 frames, 63 features, 5 parts), one thread, the
shared loop's ``train_step``. Each mask's unit and optimizer are built and warmed up once; every round then times
each of them, the order rotating from round to round (none, time, body; time, body, none; ...) so that load drift
falls on every mask alike. The steps/s column is each mask's median round, the ratio the median over rounds of its
per-round paired ratio to none. Sampling: with ``--store`` (or ``SEQMASK_HOME``) holding a finished ``seqmask run
motion``, its ``none`` denoiser generates one motion per test window with DDIM (50 steps) and DDPM (1,000 steps),
and the run's evaluator scores both against the real test windows (FID with its bootstrap interval); ``--quick``
skips sampling.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

import torch
from _common import (  # bench/ is first on sys.path
    bench_parser,
    median_ratio,
    order_note,
    parse_args,
    per_round,
    print_table,
    run_rounds,
)

from seqmask.app.root import load_experiment
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.config import MotionConfig
from seqmask.motion.diffusion import cosine_alphas_cumprod
from seqmask.motion.diffusion_unit import DiffusionUnit, sample_motions
from seqmask.motion.models import build_denoiser
from seqmask.motion.prep import WindowRecord
from seqmask.motion.windows import Skeleton, Windows
from seqmask.training.loop import optimizer_for, train_step

PARTS = (tuple(range(15)), tuple(range(15, 27)), tuple(range(27, 39)), tuple(range(39, 51)), tuple(range(51, 63)))
SKELETON = Skeleton(
    tuple(f"j{i}" for i in range(21)),
    tuple(range(-1, 20)),
    ("torso", "left arm", "right arm", "left leg", "right leg"),
    PARTS,
    63,
    20,
    60,
)
WINDOWS = 256
"""Training windows each unit draws its batches from."""


class Stepper:
    """One mask's diffusion unit on random windows, with its optimizer: each call times ``steps`` optimizer steps."""

    def __init__(self, motion: MotionConfig, mask: MotionMaskParams) -> None:
        generator = torch.Generator().manual_seed(0)
        records = [WindowRecord(clip=str(i), start=0, length=60, content="bow", style="sad") for i in range(WINDOWS)]
        windows = Windows(torch.randn(WINDOWS, 60, 63, generator=generator), torch.full((WINDOWS,), 60), records)
        texts = torch.randn(WINDOWS, 3, motion.text_encoder.dim, generator=generator)  # (N, K, E): caption embeddings
        torch.manual_seed(0)
        diffusion = motion.diffusion
        self.device = torch.device("cpu")
        self.unit = DiffusionUnit(
            build_denoiser(motion.denoiser, SKELETON, motion.text_encoder.dim),
            windows,
            texts,
            mask=mask,
            alphas_cumprod=cosine_alphas_cumprod(diffusion.steps),
            condition_dropout=diffusion.condition_dropout,
            batch_size=diffusion.batch_size,
            seed=0,
            device=self.device,
        )
        self.config = dataclasses.replace(
            diffusion.train, steps=10**6, warmup_steps=10
        )  # a steady learning rate while timed
        self.optimizer, self.scheduler = optimizer_for(self.unit.model, self.config)
        self.generator = generator
        self.batches: list[list[int]] = []
        self.step = 0

    def steps_per_second(self, steps: int) -> float:
        started = time.perf_counter()
        for _ in range(steps):
            if not self.batches:
                self.batches = self.unit.epoch(self.generator)
            self.step += 1
            train_step(
                self.unit, self.batches.pop(), self.step, self.optimizer, self.scheduler, self.config, self.device
            )
        return steps / (time.perf_counter() - started)


def training(motion: MotionConfig, rounds: int, steps: int, warm_steps: int, quick: bool) -> None:
    steppers = {mask.kind: Stepper(motion, mask) for mask in motion.masks}
    for stepper in steppers.values():
        stepper.steps_per_second(warm_steps)  # warm-up
    found = run_rounds(
        {name: lambda s=stepper: s.steps_per_second(steps) for name, stepper in steppers.items()}, rounds
    )
    masks = {mask.kind: mask for mask in motion.masks}
    parts = len(SKELETON.parts)
    describe = {
        "none": "none",
        "time": "time ({ratio:.0%} of the frames)",
        "body": f"body ({{parts_per_frame}} of {parts} parts in {{ratio:.0%}} of the frames)",
    }
    print(
        f"denoiser {motion.denoiser.layers} x {motion.denoiser.hidden},"
        f" batches of {motion.diffusion.batch_size} windows of 60 x 63,"
        f" 1 thread, {steps} steps per round{' (--quick: numbers mean nothing)' if quick else ''}"
    )
    print(order_note(list(steppers), rounds))
    print_table(
        ("mask", "steps/s (median round)", "ratio to none"),
        ("l", "r", "r"),
        [
            (
                describe.get(name, name).format(ratio=masks[name].ratio, parts_per_frame=masks[name].parts_per_frame),
                f"{statistics.median(values):.2f}",
                f"{median_ratio(values, found['none']):.3f}",
            )
            for name, values in found.items()
        ],
    )
    for name, values in found.items():
        if name != "none":
            print(f"{name} / none by round: {per_round(values, found['none'])}")


def sampling(store: Path) -> None:
    import numpy as np

    from seqmask.motion.artifacts import MODEL_DIR, TEXT_ENCODER_DIR, read_skeleton, read_windows
    from seqmask.motion.contrastive import embed_motions
    from seqmask.motion.models import load_denoiser, load_evaluator, load_text_encoder
    from seqmask.motion.scoring import fid_with_interval
    from seqmask.motion.stages.evaluator import embed_real
    from seqmask.runlog import latest_runs
    from seqmask.store import ArtifactStore

    artifacts = ArtifactStore(store)
    record = next(
        (
            r
            for r in latest_runs(store / "runs", 50)
            if r["flow"] in ("motion", "motion-compare") and r["state"] == "completed"
        ),
        None,
    )
    if record is None:
        print(f"no finished motion run in {store}: sampling part skipped")
        return
    path = {name: artifacts.ref(stage["key"]).path for name, stage in record["stages"].items() if stage.get("key")}
    prep, model_dir = path["motion-prep"], path["motion-train-none-s0"]
    skeleton = read_skeleton(prep)
    encoder = load_text_encoder(model_dir / TEXT_ENCODER_DIR, skeleton.features)
    trained = load_denoiser(model_dir / MODEL_DIR, skeleton)
    judge, vocabulary = load_evaluator(path["motion-evaluator"] / MODEL_DIR, skeleton)
    test = read_windows(prep, "test")
    conditions = encoder.embed([test.caption(i) for i in range(len(test.records))])
    real, _ = embed_real(judge, vocabulary, test)
    print(f"\n| sampler | steps | motions/s | FID (95% interval), {len(real)} test windows |\n|:---|---:|---:|---:|")
    for name, steps, eta in (("DDIM", min(50, trained.diffusion_steps), 0.0), ("DDPM", trained.diffusion_steps, 1.0)):
        started = time.perf_counter()
        motions = sample_motions(
            trained, conditions, skeleton.window, guidance=2.5, steps=steps, eta=eta, seed=0, device=torch.device("cpu")
        )
        rate = len(motions) / (time.perf_counter() - started)
        generated = embed_motions(
            judge, motions, torch.full((len(motions),), skeleton.window), torch.device("cpu")
        ).numpy()
        scored = fid_with_interval(real, np.asarray(generated), resamples=200)
        print(
            f"| {name} | {steps} | {rate:.2f} | {scored['fid']:.3f}"
            f" [{scored['fid_low']:.3f}, {scored['fid_high']:.3f}] |"
        )


def main() -> None:
    from seqmask.store import default_root

    parser = bench_parser(__doc__)
    parser.add_argument("--preset", default="small", help="the preset whose denoiser, masks and batch size are timed")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per mask per round")
    parser.add_argument(
        "--store", type=Path, default=default_root(), help="the store of a finished motion run (default: $SEQMASK_HOME)"
    )
    args = parse_args(parser, {"rounds": 1, "steps": 2})
    torch.set_num_threads(1)
    motion = load_experiment(args.preset).motion
    training(motion, args.rounds, args.steps, warm_steps=1 if args.quick else 3, quick=args.quick)
    if args.quick:
        print("\nsampling (DDIM against DDPM): skipped (--quick)")
        return
    sampling(args.store)


if __name__ == "__main__":
    main()
