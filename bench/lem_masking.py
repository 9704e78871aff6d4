"""LEM masking of a batch against plain MLM masking: throughput ratio (target >= 0.9).

    .venv/bin/python bench/lem_masking.py [--rows 64] [--length 256] [--rounds 7] [--repeats 50]

Both draw with ``seqmask.masking.lem.choose_masked`` and ``replace_masked``: plain MLM
on sub-token units (15% of the sub-tokens), LEM on word units of 1-4 pieces with a
random mix of entities, nouns, verbs and other words. Rounds alternate the two and the
median batches per second of each is printed, with LEM's ratio to MLM.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from seqmask.masking.lem import MLM, LemParams, choose_masked, replace_masked, subtoken_units


def word_units(rows: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of words of 1-4 pieces filling ``length`` positions: token units ``(N, L)`` and unit kinds ``(N, U)``."""
    pieces = torch.randint(1, 5, (rows, length), generator=generator)  # (N, L): pieces of each would-be word
    ends = pieces.cumsum(dim=1)  # (N, L)
    token_units = torch.searchsorted(ends, torch.arange(length).expand(rows, length).contiguous(), right=True)  # (N, L)
    kinds = torch.randint(0, 4, (rows, length), generator=generator)  # (N, U) with U = L (more than enough)
    return token_units, kinds


def batches_per_second(token_units, unit_kinds, params, tokens, repeats: int, generator) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        masked = choose_masked(token_units, unit_kinds, params, generator)
        replace_masked(tokens, masked, params, mask_id=7999, random_ids=(4, 8000), generator=generator)
    return repeats / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(4, 8000, (args.rows, args.length), generator=generator)  # (N, L)
    mlm_units = subtoken_units(torch.full((args.rows,), args.length), args.length)
    lem_units = word_units(args.rows, args.length, generator)
    rates: dict[str, list[float]] = {"MLM": [], "LEM": []}
    for _ in range(args.rounds):
        rates["MLM"].append(batches_per_second(*mlm_units, MLM, tokens, args.repeats, generator))
        rates["LEM"].append(batches_per_second(*lem_units, LemParams(), tokens, args.repeats, generator))
    mlm, lem = statistics.median(rates["MLM"]), statistics.median(rates["LEM"])
    print(f"batch {args.rows} x {args.length}, 1 thread, median of {args.rounds} rounds of {args.repeats} batches")
    print("| masking | batches/s | ratio vs MLM |")
    print("|---|---:|---:|")
    print(f"| plain MLM (sub-token units) | {mlm:.0f} | 1.000 |")
    print(f"| LEM (word units, entity/noun/verb first) | {lem:.0f} | {lem / mlm:.3f} |")


if __name__ == "__main__":
    main()
