"""LEM masking of a batch against plain MLM masking: throughput ratio (target >= 0.9).

    .venv/bin/python bench/lem_masking.py [--rows 64] [--length 256] [--rounds 7] [--repeats 50] [--quick]

Both draw with ``seqmask.masking.lem.choose_masked`` and ``replace_masked``: plain MLM
on sub-token units (15% of the sub-tokens), LEM on word units of 1-4 pieces with a
random mix of entities, nouns, verbs and other words. Each side is warmed up once, then
every round times both, the order alternating from round to round (MLM first, then LEM
first, ...) so that load drift falls on both; the batches/s column is each side's median
round, the ratio the median of the per-round paired ratios LEM / MLM.
"""

from __future__ import annotations

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
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=50, help="batches per side per round")
    args = parse_args(parser, {"rows": 8, "length": 32, "rounds": 1, "repeats": 3})
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(4, 8000, (args.rows, args.length), generator=generator)  # (N, L)
    mlm_units = subtoken_units(torch.full((args.rows,), args.length), args.length)
    lem_units = word_units(args.rows, args.length, generator)
    sides = {
        "MLM": lambda: batches_per_second(*mlm_units, MLM, tokens, args.repeats, generator),
        "LEM": lambda: batches_per_second(*lem_units, LemParams(), tokens, args.repeats, generator),
    }
    for measure in sides.values():
        measure()  # warm-up: first calls (allocator, dispatch caches) are not timed
    rates = run_rounds(sides, args.rounds)
    mlm, lem = statistics.median(rates["MLM"]), statistics.median(rates["LEM"])
    print(
        f"batch {args.rows} x {args.length}, 1 thread, {args.repeats} batches per side per round"
        f"{' (--quick: numbers mean nothing)' if args.quick else ''}"
    )
    print(order_note(list(sides), args.rounds))
    print_table(
        ("masking", "batches/s (median round)", "ratio vs MLM"),
        ("", "r", "r"),
        [
            ("plain MLM (sub-token units)", f"{mlm:.0f}", "1.000"),
            (
                "LEM (word units, entity/noun/verb first)",
                f"{lem:.0f}",
                f"{median_ratio(rates['LEM'], rates['MLM']):.3f}",
            ),
        ],
    )
    print(f"\nLEM / MLM by round: {per_round(rates['LEM'], rates['MLM'])}")


if __name__ == "__main__":
    main()
