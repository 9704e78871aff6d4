"""Command-line options of the speech flows: a corpus of the user's own, and the study plan."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqmask.paths import resolve_path

DEFAULT_STUDY_PLAN = "configs/studies/ask2mask.yaml"
"""The plan ``seqmask run study`` runs without ``--plan`` (relative to the project root)."""


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("your own speech corpus (paths are relative to the current directory)")
    group.add_argument("--manifest", help="a JSONL manifest: {\"id\", \"audio\", \"text\"?, \"speaker\"?, \"language\"?, \"split\"?} a line")
    group.add_argument("--audio-dir", help="a directory of audio files (id = file stem)")
    group.add_argument("--transcripts", help="TSV id<TAB>text for --audio-dir")


def corpus_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides the corpus options stand for."""
    options = {"manifest": args.manifest, "audio_dir": args.audio_dir, "transcripts": args.transcripts}
    return {f"speech_prep.user.{key}": value for key, value in options.items() if value is not None}


def add_study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help=f"a study plan YAML (default: {DEFAULT_STUDY_PLAN})")


def study_plan_path(args: argparse.Namespace) -> Path:
    """``--plan`` (relative to the current directory) or the default plan."""
    return Path(args.plan).resolve() if args.plan else resolve_path(DEFAULT_STUDY_PLAN)
