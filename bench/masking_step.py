"""Pretraining step throughput with the Ask2Mask masker vs fairseq2's StandardWav2Vec2Masker (target >= 0.97),
and scoring throughput (seconds of audio per second), measured in one run.

    .venv/bin/python bench/masking_step.py [--arch small] [--steps 20] [--rounds 8]

Same model size, same batch (8 utterances of 4 s filterbanks, fixed seed), same training
step (``seqmask.training.loop.train_step`` on a ``PretrainUnit``: forward, loss, backward,
clip, AdamW). Rounds alternate between the two maskers so drift in machine load hits
both; the median round is reported. Scores are precomputed, as in the pipeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from seqmask.speech.config import PretrainConfig
from seqmask.speech.features import Utterance
from seqmask.speech.model import build_asr_model
from seqmask.speech.pretrain import PretrainUnit
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.training.loop import optimizer_for, train_step


def make_batch(n: int, seconds: float, seed: int) -> tuple[list[Utterance], dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    frames = int(seconds * 100)
    utterances = [Utterance(f"u{i}", torch.randn(frames, 80, generator=generator).half(), None, "train", "bench", "s") for i in range(n)]
    scores = {u.id: torch.rand(u.encoder_frames, generator=generator) for u in utterances}
    return utterances, scores


class Stepper:
    """A pretraining unit with its optimizer: one call, one training step on the whole batch."""

    def __init__(self, config: PretrainConfig, variant: str, utterances, scores, device: torch.device) -> None:
        self.config, self.device = config, device
        self.unit = PretrainUnit(config, variant, utterances, scores if variant != "random" else None, device)
        self.optimizer, self.scheduler = optimizer_for(self.unit.model, config.train)
        self.batch = list(range(len(utterances)))
        self.step = 0

    def steps_per_second(self, steps: int) -> float:
        started = time.perf_counter()
        for _ in range(steps):
            self.step += 1
            train_step(self.unit, self.batch, self.step, self.optimizer, self.scheduler, self.config.train, self.device)
        return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="small")
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    utterances, scores = make_batch(8, 4.0, seed=0)
    config = PretrainConfig(arch=args.arch)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=10**6, warmup_steps=10))
    steppers = {variant: Stepper(config, variant, utterances, scores, device) for variant in ("random", "ask2mask+utt")}
    with torch.compiler.set_stance("force_eager"):
        for stepper in steppers.values():
            stepper.steps_per_second(3)  # warm-up
        rounds: dict[str, list[float]] = {name: [] for name in steppers}
        for round_index in range(args.rounds):
            order = list(steppers.items())
            for name, stepper in order if round_index % 2 == 0 else order[::-1]:  # alternate who goes first
                rounds[name].append(stepper.steps_per_second(args.steps))
    base, ours = statistics.median(rounds["random"]), statistics.median(rounds["ask2mask+utt"])
    print(f"\ndevice {device}, arch {args.arch}, batch 8 x 4 s, {args.rounds} rounds of {args.steps} steps (median)")
    print("| masker | steps/s | ratio vs fairseq2 standard |\n|---|---|---|")
    print(f"| StandardWav2Vec2Masker (random) | {base:.2f} | 1.000 |")
    print(f"| Ask2MaskMasker + utterance weights | {ours:.2f} | {ours / base:.3f} |")

    scorer = CtcScorer(build_asr_model(args.arch, 30), device=device)
    audio_seconds = sum(u.feats.shape[0] for u in utterances) / 100
    score_utterances(scorer, utterances)  # warm-up
    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        score_utterances(scorer, utterances)
    rate = repeats * audio_seconds / (time.perf_counter() - started)
    print(f"\nscoring ({args.arch} CTC scorer): {rate:.0f} s of audio per second")


if __name__ == "__main__":
    main()
