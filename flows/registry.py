"""The flows users run by name: each one's Prefect flow, the library plan it runs, and its own command-line options.

Importing this module imports neither Prefect nor torch: the CLI reads it to build
its parser, and imports a flow's module only to run it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqmask.config import load_yaml
from seqmask.experiment.study import PLAN_KEYS
from seqmask.schema import ConfigError
from seqmask.speech.options import (
    add_corpus_options,
    add_study_options,
    corpus_overrides,
    study_plan_path,
)


@dataclass(frozen=True)
class FlowSpec:
    """A flow: where its Prefect flow and its plan are, and what it adds to ``seqmask run``."""

    entrypoint: str
    """``module:function`` of the Prefect flow (called with ``config``, ``from_stage`` and the extra parameters)."""
    plan: str
    """``module:function`` giving the pipelines the flow runs from a config and the extra parameters (``--dry-run``)."""
    help: str
    add_options: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    """Adds the flow's own options to its ``seqmask run`` parser."""
    overrides: Callable[[argparse.Namespace], dict[str, Any]] = lambda args: {}
    """Config overrides the flow's options stand for."""
    extra: Callable[[argparse.Namespace], dict[str, Any]] = field(default=lambda args: {})
    """Flow parameters besides the config (JSON-able), e.g. the study plan."""


def read_yaml_file(path: Path, what: str) -> Any:
    """The parsed YAML of the file ``path``; the error of a missing or malformed one names ``what`` (e.g. ``study
    plan``), the file, and for a YAML error its line, column and problem."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path}: expected UTF-8 text, found {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path}: not valid YAML: {_yaml_problem(err)}") from err


def _yaml_problem(err: yaml.YAMLError) -> str:
    """``line L, column C: PROBLEM (CONTEXT at line L, column C)``, 1-based, of a YAML error; its text when it has no mark."""
    if not isinstance(err, yaml.MarkedYAMLError) or err.problem_mark is None:
        return str(err)
    problem = f"{_position(err.problem_mark)}: {err.problem}"
    if err.context and err.context_mark is not None:
        return f"{problem} ({err.context} at {_position(err.context_mark)})"
    return f"{problem} ({err.context})" if err.context else problem


def _position(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _study_extra(args: argparse.Namespace) -> dict[str, Any]:
    path = study_plan_path(args)
    plan = read_yaml_file(path, "study plan")
    if not isinstance(plan, dict):
        raise ConfigError(f"study plan {path}: expected a mapping with keys {PLAN_KEYS}, found {type(plan).__name__} {plan!r}")
    return {"plan": plan}


def _with_study_options(parser: argparse.ArgumentParser) -> None:
    add_corpus_options(parser)
    add_study_options(parser)


FLOWS: dict[str, FlowSpec] = {
    "speech-prep": FlowSpec(
        "flows.speech:speech_prep", "seqmask.speech.pipeline:speech_prep_plan",
        "manifests and 16 kHz shards of every speech corpus", add_corpus_options, corpus_overrides,
    ),
    "speech": FlowSpec(
        "flows.speech:speech", "seqmask.speech.pipeline:speech_plan",
        "Ask2Mask: scorer, pretraining per variant, CTC fine-tuning and WER (seed 0)", add_corpus_options, corpus_overrides,
    ),
    "speech-compare": FlowSpec(
        "flows.speech:speech_compare", "seqmask.speech.pipeline:speech_compare_plan",
        "no pretraining / random / ask2mask / ask2mask+utt over seeds: mean ± std", add_corpus_options, corpus_overrides,
    ),
    "speech-study": FlowSpec(
        "flows.speech:speech_study", "seqmask.speech.pipeline:speech_study_plan",
        "the same experiment at several settings, read on valid", _with_study_options, corpus_overrides, _study_extra,
    ),
    "text-prep": FlowSpec(
        "flows.text:text_prep", "seqmask.text.pipeline:text_prep_plan",
        "cleaned sentences and pairs, mining sets held out of pretraining text",
    ),
    "text": FlowSpec(
        "flows.text:text", "seqmask.text.pipeline:text_plan",
        "LEM vs MLM+TLM continual pretraining and bitext mining (seed 0)",
    ),
    "text-compare": FlowSpec(
        "flows.text:text_compare", "seqmask.text.pipeline:text_compare_plan",
        "base / MLM+TLM / LEM over seeds: xSIM error mean ± std",
    ),
    "motion-prep": FlowSpec(
        "flows.motion:motion_prep", "seqmask.motion.pipeline:motion_prep_plan",
        "Bandai BVH clips to 20 fps windows of joint positions, clip-level splits, statistics",
    ),
    "motion": FlowSpec(
        "flows.motion:motion", "seqmask.motion.pipeline:motion_plan",
        "MMDM: text-to-motion diffusion with none / time / body masks, FID and R-precision (seed 0)",
    ),
    "motion-compare": FlowSpec(
        "flows.motion:motion_compare", "seqmask.motion.pipeline:motion_compare_plan",
        "none / time / body over seeds and the mask-ratio study: motion metrics mean ± std",
    ),
    "pipeline": FlowSpec(
        "flows.pipeline:pipeline", "seqmask.experiment.pipeline:pipeline_plan",
        "speech, text and motion (each at seed 0) in one flow run: what the nightly deployment runs", add_corpus_options, corpus_overrides,
    ),
}


def load(target: str) -> Any:
    """The object a ``module:function`` string names (the module is imported now)."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
