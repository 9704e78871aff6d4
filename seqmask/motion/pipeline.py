"""The motion (MMDM) pipelines: which stages run, what each reads, and the plans the flows run: ``motion-prep``,
``motion`` (every mask, seed 0) and ``motion-compare`` (every mask over every seed, and the ratio study at seed 0).

One text encoder and one evaluator serve every run; each run trains a denoiser, is
evaluated on valid and test, and (seed 0 at the default ratios) rendered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from seqmask.experiment.runs import Run, expand, offset_seed
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.artifacts import EVALUATE, EVALUATOR, MODEL, PREP, RENDER, TEXT, run_role
from seqmask.motion.stages import evaluate, evaluator, prep, render, report, text_encoder, train
from seqmask.paths import resolve_path
from seqmask.stage import Pipeline, Plan, stage_name, stage_of, training

if TYPE_CHECKING:
    from seqmask.app.root import ExperimentConfig

PRIORITY = {"evaluator": 3, "text-encoder": 3, "train": 2, "evaluate": 1, "render": 0}
"""What others wait for first: the shared encoders, then the trainings."""


def variant_name(mask: MotionMaskParams, default: bool) -> str:
    """``none``, ``time``, ``body`` at the configured ratios; ``time@0.5`` in the ratio study."""
    return mask.kind if default else f"{mask.kind}@{mask.ratio:g}"


def variants(config: ExperimentConfig, *, study: bool) -> dict[str, MotionMaskParams]:
    """Variant name -> mask: the configured masks, and with ``study`` every masked kind at every ``ratio_study``
    ratio."""
    masks = [mask for kind in config.motion.comparison.variants for mask in config.motion.masks if mask.kind == kind]
    found = {variant_name(mask, True): mask for mask in masks}
    if study:
        for mask in masks:
            for ratio in config.motion.ratio_study:
                if mask.kind != "none" and ratio != mask.ratio:
                    found[variant_name(dataclasses.replace(mask, ratio=ratio), False)] = dataclasses.replace(
                        mask, ratio=ratio
                    )
    return found


PREP_STAGES = (
    stage_of(prep, config_of=lambda c: c.motion_prep, sources=lambda c: [resolve_path(c.motion_prep.bandai_dir)]),
)


def motion_pipeline(runs: Sequence[Run], masks: dict[str, MotionMaskParams], *, name: str) -> Pipeline:
    """Prep, the text encoder and the evaluator, a denoiser per run with its evaluation (and seed-0 renders), the
    report."""
    on_prep = {PREP: stage_name(prep)}
    models = {**on_prep, TEXT: stage_name(text_encoder)}
    stages = [
        *PREP_STAGES,
        stage_of(
            text_encoder,
            inputs=on_prep,
            **training(PRIORITY["text-encoder"]),
            config_of=lambda c: c.motion.text_encoder,
            sources=lambda c: [resolve_path(c.motion.text_encoder.clip)] if c.motion.text_encoder.clip else [],
        ),
        stage_of(
            evaluator,
            inputs=on_prep,
            **training(PRIORITY["evaluator"]),
            config_of=lambda c: evaluator.Config(evaluator=c.motion.evaluator, sampling=c.motion.sampling),
        ),
    ]
    per_run = {}
    for run in runs:
        mask, trained = masks[run.variant], stage_name(train, run.name)
        stages += [
            stage_of(
                train,
                run.name,
                inputs=models,
                **training(PRIORITY["train"]),
                config_of=lambda c, mask=mask, run=run: _train_config(c, mask, run.seed),
            ),
            stage_of(
                evaluate,
                run.name,
                inputs={**models, EVALUATOR: stage_name(evaluator), MODEL: trained},
                **training(PRIORITY["evaluate"]),
                config_of=lambda c: evaluate.Config(sampling=c.motion.sampling),
            ),
        ]
        per_run[run_role(EVALUATE, run.name)] = stage_name(evaluate, run.name)
        if run.seed == runs[0].seed and "@" not in run.variant:
            stages.append(
                stage_of(
                    render,
                    run.name,
                    inputs={**models, MODEL: trained},
                    **training(PRIORITY["render"], gpu=False),
                    config_of=lambda c: render.Config(
                        sampling=c.motion.sampling, captions=c.motion.render_captions, scale=c.motion_prep.scale
                    ),
                )
            )
            per_run[run_role(RENDER, run.name)] = stage_name(render, run.name)
    stages.append(
        stage_of(
            report,
            inputs={EVALUATOR: stage_name(evaluator), **per_run},
            config_of=lambda c: report.Config(
                runs=tuple((run.variant, run.seed) for run in runs),
                baseline=c.motion.comparison.baseline,
                variants=tuple((v, m.kind, m.ratio) for v, m in masks.items()),
                default_ratio={mask.kind: mask.ratio for mask in c.motion.masks},
                gates=c.motion.gates,
            ),
        )
    )
    return Pipeline(name, tuple(stages))


def _train_config(config: ExperimentConfig, mask: MotionMaskParams, seed: int) -> train.Config:
    """A run's denoiser training: its mask, and the training's seed offset by the run's."""
    diffusion = config.motion.diffusion
    return train.Config(
        mask=mask,
        denoiser=config.motion.denoiser,
        diffusion=dataclasses.replace(diffusion, train=offset_seed(diffusion.train, seed)),
    )


# --- what each flow runs ---------------------------------------------------------------------


def motion_prep_plan(config: ExperimentConfig) -> Plan:
    """Windows, captions, splits and statistics."""
    return [(Pipeline("motion-prep", PREP_STAGES), config)]


def motion_plan(config: ExperimentConfig) -> Plan:
    """Every configured mask, seed 0: the motion job of ``make run``."""
    masks = variants(config, study=False)
    main = config.motion.comparison.main_runs()
    return [(motion_pipeline(main, masks, name="motion"), config)]


def motion_compare_plan(config: ExperimentConfig) -> Plan:
    """Every configured mask over every seed, and each masked kind at the study ratios with the first seed."""
    masks = variants(config, study=True)
    comparison = config.motion.comparison
    ratio_study = [v for v in masks if "@" in v]
    runs = [*comparison.runs(), *expand(ratio_study, comparison.seeds[:1])]
    return [(motion_pipeline(runs, masks, name="motion-compare"), config)]
