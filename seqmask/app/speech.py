"""The speech pipeline's command line: its flows' options (a corpus of the user's own, the study plan) and its
inference commands, ``eval`` and ``transcribe``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seqmask.config import read_yaml_file
from seqmask.experiment.study import PLAN_KEYS
from seqmask.paths import resolve_path
from seqmask.schema import ConfigError
from seqmask.store import ArtifactStore

COMMANDS = ("eval", "transcribe")

DEFAULT_STUDY_PLAN = "configs/studies/ask2mask.yaml"
"""The plan ``seqmask run speech-study`` runs without ``--plan`` (relative to the project root)."""


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("your own speech corpus (paths are relative to the current directory)")
    group.add_argument(
        "--manifest", help='a JSONL manifest: {"id", "audio", "text"?, "speaker"?, "language"?, "split"?} a line'
    )
    group.add_argument("--audio-dir", help="a directory of audio files (id = file stem)")
    group.add_argument("--transcripts", help="TSV id<TAB>text for --audio-dir")


def corpus_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides the corpus options stand for."""
    options = {"manifest": args.manifest, "audio_dir": args.audio_dir, "transcripts": args.transcripts}
    return {f"speech_prep.user.{key}": value for key, value in options.items() if value is not None}


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """The corpus options and ``--plan`` (``speech-study``)."""
    add_corpus_options(parser)
    parser.add_argument("--plan", help=f"a study plan YAML (default: {DEFAULT_STUDY_PLAN})")


def study_plan_path(args: argparse.Namespace) -> Path:
    """``--plan`` (relative to the current directory) or the default plan."""
    return Path(args.plan).resolve() if args.plan else resolve_path(DEFAULT_STUDY_PLAN)


def study_extra(args: argparse.Namespace) -> dict[str, Any]:
    """``speech-study``'s flow parameter besides the config: the parsed study plan."""
    path = study_plan_path(args)
    plan = read_yaml_file(path, "study plan")
    if not isinstance(plan, dict):
        raise ConfigError(
            f"study plan {path}: expected a mapping with keys {PLAN_KEYS}, found {type(plan).__name__} {plan!r}"
        )
    return {"plan": plan}


def add_commands(commands: Any) -> None:
    """``seqmask eval`` and ``seqmask transcribe``."""
    evaluate = commands.add_parser("eval", help="WER and CER of a fine-tuned model on a manifest")
    evaluate.add_argument(
        "--model", required=True, help="finetune artifact key (prefix), a directory with model.pt, or a checkpoint"
    )
    evaluate.add_argument("--manifest", required=True, help="JSONL with id, audio and text per line")
    evaluate.add_argument("--hypotheses", help="also write id<TAB>hypothesis lines to this file")
    transcribe = commands.add_parser("transcribe", help="greedy CTC transcripts of audio files")
    transcribe.add_argument("--model", required=True, help="as for eval")
    transcribe.add_argument("audio", nargs="+")


def run_command(args: argparse.Namespace) -> int:
    """Transcripts or WER/CER; a file that cannot be decoded gets a line on stderr and the exit status 1."""
    from seqmask.eval.wer import WER
    from seqmask.experiment.tables import results_table
    from seqmask.speech.inference import evaluate_manifest, load_model, resolve_model, transcribe_files

    model, vocab = load_model(resolve_model(args.model, ArtifactStore()))  # checked before any audio is decoded
    if args.command == "transcribe":
        texts, failures = transcribe_files(model, vocab, [Path(a) for a in args.audio])
        for path, text in texts.items():
            print(f"{path}\t{text}")
    else:
        if not Path(args.manifest).is_file():
            raise FileNotFoundError(f"--manifest {args.manifest}: no such file")
        results, hyps, failures = evaluate_manifest(model, vocab, Path(args.manifest))
        if results:
            print(results_table({str(args.model): results}, WER))
        if args.hypotheses:
            Path(args.hypotheses).write_text(
                "".join(f"{uid}\t{text}\n" for uid, text in hyps.items()), encoding="utf-8"
            )
    for name, error in failures.items():
        print(f"seqmask: skipped {name}: {error}", file=sys.stderr)
    if failures:
        print(f"seqmask: {len(failures)} audio file(s) could not be decoded", file=sys.stderr)
    return 1 if failures else 0
