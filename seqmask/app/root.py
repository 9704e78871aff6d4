"""The composition root: the root config (its fields are the sections the preset loader reads), the flows users run
by name, and the commands each pipeline adds to ``seqmask``.

Importing this module imports neither Prefect nor torch: the CLI reads it to build its parser, and imports a flow's
module only to run it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqmask.app import motion, speech, text
from seqmask.app.speech import add_corpus_options, add_study_options, corpus_overrides, study_extra
from seqmask.config import config_from_dict, load_config
from seqmask.executor import OrchestrationConfig
from seqmask.motion.config import MotionConfig, MotionPrepConfig
from seqmask.speech.config import SpeechConfig, SpeechPrepConfig
from seqmask.text.config import TextPrepConfig
from seqmask.text.section import TextConfig


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """Everything one seqmask run needs."""

    preset: str = "small"
    """Name of the preset this config was loaded from."""
    speech_prep: SpeechPrepConfig = field(default_factory=SpeechPrepConfig)
    """Speech data preparation."""
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    """Ask2Mask pretraining, fine-tuning and evaluation."""
    text_prep: TextPrepConfig = field(default_factory=TextPrepConfig)
    """Text data preparation."""
    text: TextConfig = field(default_factory=TextConfig)
    """LEM: tokenizer, tags, base encoder, continual pretraining, mining."""
    motion_prep: MotionPrepConfig = field(default_factory=MotionPrepConfig)
    """Motion data preparation."""
    motion: MotionConfig = field(default_factory=MotionConfig)
    """MMDM: text encoder, denoiser per mask, evaluator, sampling, comparison."""
    orchestration: OrchestrationConfig = field(default_factory=OrchestrationConfig)
    """Dask and Prefect settings (never part of an artifact key)."""


def load_experiment(
    preset: str | Path = "small", overrides: Mapping[str, Any] | Sequence[str] = ()
) -> ExperimentConfig:
    """The experiment config of a preset (a name in ``configs/`` or a YAML path) with ``key.sub=value`` overrides."""
    return load_config(ExperimentConfig, preset, overrides)


def experiment_from_dict(data: Mapping[str, Any]) -> ExperimentConfig:
    """The experiment config :func:`seqmask.config.to_dict` wrote (a flow's parameter), checked again."""
    return config_from_dict(ExperimentConfig, data)


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


FLOWS: dict[str, FlowSpec] = {
    "speech-prep": FlowSpec(
        "flows.speech:speech_prep",
        "seqmask.speech.pipeline:speech_prep_plan",
        "manifests and 16 kHz shards of every speech corpus",
        add_corpus_options,
        corpus_overrides,
    ),
    "speech": FlowSpec(
        "flows.speech:speech",
        "seqmask.speech.pipeline:speech_plan",
        "Ask2Mask: scorer, pretraining per variant, CTC fine-tuning and WER (seed 0)",
        add_corpus_options,
        corpus_overrides,
    ),
    "speech-compare": FlowSpec(
        "flows.speech:speech_compare",
        "seqmask.speech.pipeline:speech_compare_plan",
        "no pretraining / random / ask2mask / ask2mask+utt over seeds: mean ± std",
        add_corpus_options,
        corpus_overrides,
    ),
    "speech-study": FlowSpec(
        "flows.speech:speech_study",
        "seqmask.speech.pipeline:speech_study_plan",
        "the same experiment at several settings, read on valid",
        add_study_options,
        corpus_overrides,
        study_extra,
    ),
    "text-prep": FlowSpec(
        "flows.text:text_prep",
        "seqmask.text.pipeline:text_prep_plan",
        "cleaned sentences and pairs, mining sets held out of pretraining text",
    ),
    "text": FlowSpec(
        "flows.text:text",
        "seqmask.text.pipeline:text_plan",
        "LEM vs MLM+TLM continual pretraining and bitext mining (seed 0)",
    ),
    "text-compare": FlowSpec(
        "flows.text:text_compare",
        "seqmask.text.pipeline:text_compare_plan",
        "base / MLM+TLM / LEM over seeds: xSIM error mean ± std",
    ),
    "motion-prep": FlowSpec(
        "flows.motion:motion_prep",
        "seqmask.motion.pipeline:motion_prep_plan",
        "Bandai BVH clips to 20 fps windows of joint positions, clip-level splits, statistics",
    ),
    "motion": FlowSpec(
        "flows.motion:motion",
        "seqmask.motion.pipeline:motion_plan",
        "MMDM: text-to-motion diffusion with none / time / body masks, FID and R-precision (seed 0)",
    ),
    "motion-compare": FlowSpec(
        "flows.motion:motion_compare",
        "seqmask.motion.pipeline:motion_compare_plan",
        "none / time / body over seeds and the mask-ratio study: motion metrics mean ± std",
    ),
    "pipeline": FlowSpec(
        "flows.pipeline:pipeline",
        "seqmask.app.pipeline:pipeline_plan",
        "speech, text and motion (each at seed 0) in one flow run: what the nightly deployment runs",
        add_corpus_options,
        corpus_overrides,
    ),
}


PipelineCommand = tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]
"""``(add_parsers, run)``: adds a pipeline's inference commands to ``seqmask``'s subparsers, and runs one of them."""

COMMANDS: dict[str, PipelineCommand] = {
    **{name: (speech.add_commands, speech.run_command) for name in speech.COMMANDS},
    **{name: (text.add_commands, text.run_command) for name in text.COMMANDS},
    **{name: (motion.add_commands, motion.run_command) for name in motion.COMMANDS},
}
"""Each pipeline's inference commands by name: ``eval`` and ``transcribe`` (speech), ``mine`` (text), ``generate``
(motion)."""


def load(target: str) -> Any:
    """The object a ``module:function`` string names (the module is imported now)."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
