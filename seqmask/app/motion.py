"""The motion pipeline's command line: ``seqmask generate``, a motion for a caption from a trained denoiser."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqmask.store import ArtifactStore

COMMANDS = ("generate",)


def add_commands(commands: Any) -> None:
    """``seqmask generate``."""
    generate = commands.add_parser("generate", help="a motion for a caption: BVH and stick-figure GIF")
    generate.add_argument("--model", required=True, help="motion-train-* artifact key (prefix) or its directory")
    generate.add_argument("--text", required=True, help='a caption, e.g. "a person waves happily"')
    generate.add_argument(
        "--out", type=Path, default=Path("generated"), help="output path without suffix (default: ./generated)"
    )
    generate.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    generate.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale (default: 2.5)")
    generate.add_argument(
        "--steps",
        type=int,
        default=None,
        help="DDIM steps, at most the model's diffusion steps (default: 50, or all of them when fewer)",
    )


def run_command(args: argparse.Namespace) -> int:
    """A BVH and a GIF of one generated motion."""
    from seqmask.motion.inference import generate_files, resolve_model

    store = ArtifactStore()
    for path in generate_files(
        resolve_model(args.model, store),
        args.text,
        args.out,
        store=store,
        seed=args.seed,
        guidance=args.guidance,
        steps=args.steps,
    ):
        print(path)
    return 0
