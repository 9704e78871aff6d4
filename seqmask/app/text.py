"""The text pipeline's command line: ``seqmask mine``, bitext mining of two line-aligned files with a trained
encoder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seqmask.store import ArtifactStore

COMMANDS = ("mine",)


def add_commands(commands: Any) -> None:
    """``seqmask mine``."""
    mine = commands.add_parser("mine", help="bitext mining of two line-aligned files: xSIM error both ways and P@1")
    mine.add_argument(
        "--model", required=True, help="text-continual-*/text-base artifact key (prefix) or a model directory"
    )
    mine.add_argument("--src", required=True, type=Path, help="one sentence a line")
    mine.add_argument("--tgt", required=True, type=Path, help="line i translates line i of --src")
    mine.add_argument("--src-lang", help="language of --src (e.g. eng), for a model with language embeddings")
    mine.add_argument("--tgt-lang", help="language of --tgt")
    mine.add_argument("--centre", action="store_true", help="subtract each side's mean embedding before scoring")
    mine.add_argument("--layer", type=int, default=-1, help="hidden layer to mean-pool (default: the last)")
    mine.add_argument("--k", type=int, default=4, help="neighbours in the ratio margin (default: 4)")
    mine.add_argument("--out", type=Path, help="write source<TAB>mined target<TAB>is it the gold line, per source line")


def run_command(args: argparse.Namespace) -> int:
    """xSIM error both ways and P@1 of the model on two line-aligned files; rejected lines on stderr."""
    from seqmask.text.inference import load_for_mining, mine_files, resolve_encoder

    for option, path in (("--src", args.src), ("--tgt", args.tgt)):
        if not path.is_file():
            raise FileNotFoundError(f"{option} {path}: no such file")
    encoder = load_for_mining(resolve_encoder(args.model, ArtifactStore()))
    pairs, rejects, results = mine_files(
        encoder,
        args.src,
        args.tgt,
        source_language=args.src_lang,
        target_language=args.tgt_lang,
        layer=args.layer,
        k=args.k,
        centre=args.centre,
    )
    names = (args.src_lang or "src", args.tgt_lang or "tgt")
    print("| direction | pairs | xSIM error % | P@1 % |\n|:---|---:|---:|---:|")
    for way, (first, second) in (("forward", names), ("backward", names[::-1])):
        row = results[way]
        print(f"| {first}→{second} | {row.pairs} | {row.xsim_error:.2f} | {row.p_at_1:.2f} |")
    if args.out:
        matches = results["forward"].matches
        args.out.write_text(
            "".join(f"{p.source}\t{pairs[m].target}\t{int(m == i)}\n" for i, (p, m) in enumerate(zip(pairs, matches))),
            encoding="utf-8",
        )
    for reject in rejects:
        print(f"seqmask: skipped {reject.origin}: {reject.reason}: {reject.detail}", file=sys.stderr)
    return 0
