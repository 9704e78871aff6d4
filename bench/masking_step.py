"""Pretraining step throughput with the Ask2Mask masker vs fairseq2's StandardWav2Vec2Masker (target >= 0.97),
and scoring throughput (seconds of audio per second), measured in one run.

    .venv/bin/python bench/masking_step.py [--preset small] [--steps 20] [--rounds 8] [--batch 8] [--seconds 4]
                                           [--threads 1] [--quick]

The model is what ``--preset`` pretrains: its ``speech.encoder`` (``small``: the ``mini`` arch, pre-LN) and its
``speech.pretrain`` section (mask, distractors, optimiser), with the schedule stretched (warm-up 10 steps, no end)
so that every timed step runs at a steady learning rate. Same batch for both (``--batch`` utterances of
``--seconds`` s of filterbanks, fixed seed), same training step (``seqmask.training.loop.train_step`` on a
``PretrainUnit``: forward, loss, backward, clip, AdamW). Each round times both maskers, the order alternating from
round to round so that drift in machine load hits both; the steps/s column is each masker's median round, the ratio
the median of the per-round paired ratios. Scores are precomputed, as in the pipeline. Scoring: an (untrained)
CTC model of the preset's ``speech.scorer`` encoder over the FSDD character vocabulary. One torch thread by default,
as the pipeline's training stages run (on single-threaded Dask workers).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

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
from seqmask.data.fsdd import DIGIT_WORDS
from seqmask.speech.config import EncoderConfig, PretrainConfig
from seqmask.speech.features import Utterance
from seqmask.speech.model import build_asr_model
from seqmask.speech.pretrain import PretrainUnit
from seqmask.speech.scorer import CtcScorer, score_utterances
from seqmask.speech.vocab import Vocabulary
from seqmask.training.loop import optimizer_for, train_step

BASELINE, OURS = "random", "ask2mask+utt"
NAMES = {BASELINE: "StandardWav2Vec2Masker (random)", OURS: "Ask2MaskMasker + utterance weights"}


def make_batch(n: int, seconds: float, seed: int) -> tuple[list[Utterance], dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    frames = int(seconds * 100)
    utterances = [
        Utterance(f"u{i}", torch.randn(frames, 80, generator=generator).half(), None, "train", "bench", "s")
        for i in range(n)
    ]
    scores = {u.id: torch.rand(u.encoder_frames, generator=generator) for u in utterances}
    return utterances, scores


class Stepper:
    """A pretraining unit with its optimizer: one call, one training step on the whole batch."""

    def __init__(
        self, config: PretrainConfig, encoder: EncoderConfig, variant: str, utterances, scores, device: torch.device
    ) -> None:
        self.config, self.device = config, device
        self.unit = PretrainUnit(config, encoder, variant, utterances, scores if variant != "random" else None, device)
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
    parser = bench_parser(__doc__)
    parser.add_argument("--preset", default="small", help="the preset whose pretraining model and settings are timed")
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8, help="utterances per batch")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of filterbanks per utterance")
    parser.add_argument("--score-repeats", type=int, default=5, help="timed scoring passes over the batch")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: the pipeline trains on single-threaded Dask workers; 0: torch's default)",
    )
    args = parse_args(parser, {"steps": 2, "rounds": 1, "batch": 2, "seconds": 2.0, "score_repeats": 1})
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    speech = load_experiment(args.preset).speech
    encoder = speech.encoder
    config = dataclasses.replace(
        speech.pretrain, train=dataclasses.replace(speech.pretrain.train, steps=10**6, warmup_steps=10)
    )
    utterances, scores = make_batch(args.batch, args.seconds, seed=0)
    steppers = {variant: Stepper(config, encoder, variant, utterances, scores, device) for variant in (BASELINE, OURS)}
    with torch.compiler.set_stance("force_eager"):
        for stepper in steppers.values():
            stepper.steps_per_second(1 if args.quick else 3)  # warm-up
        rounds = run_rounds(
            {name: lambda s=stepper: s.steps_per_second(args.steps) for name, stepper in steppers.items()}, args.rounds
        )
    print(
        f"\ndevice {device}, preset {args.preset}: arch {encoder.arch} (norm {encoder.norm_order}),"
        f" batch {args.batch} x {args.seconds:g} s,"
        f" {args.steps} steps per round, {torch.get_num_threads()} torch thread"
        f"{'s' if torch.get_num_threads() > 1 else ''}"
        f"{' (--quick: numbers mean nothing)' if args.quick else ''}"
    )
    print(order_note(list(steppers), args.rounds))
    print_table(
        ("masker", "steps/s (median round)", "ratio vs fairseq2 standard"),
        ("", "", ""),
        [
            (NAMES[BASELINE], f"{statistics.median(rounds[BASELINE]):.2f}", "1.000"),
            (
                NAMES[OURS],
                f"{statistics.median(rounds[OURS]):.2f}",
                f"{median_ratio(rounds[OURS], rounds[BASELINE]):.3f}",
            ),
        ],
    )
    print(f"\n{OURS} / {BASELINE} by round: {per_round(rounds[OURS], rounds[BASELINE])}")

    scorer_config = speech.scorer
    vocab = Vocabulary.chars(DIGIT_WORDS)  # the target's (FSDD) character vocabulary, as the scorer stage builds it
    scorer = CtcScorer(build_asr_model(scorer_config.encoder, len(vocab.tokens), scorer_config), device=device)
    audio_seconds = sum(u.feats.shape[0] for u in utterances) / 100
    score_utterances(scorer, utterances)  # warm-up
    started = time.perf_counter()
    for _ in range(args.score_repeats):
        score_utterances(scorer, utterances)
    rate = args.score_repeats * audio_seconds / (time.perf_counter() - started)
    print(
        f"\nscoring ({scorer_config.encoder.arch} CTC scorer of preset {args.preset}): {rate:.0f} s of audio per second"
    )


if __name__ == "__main__":
    main()
