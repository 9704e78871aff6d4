"""The motion (MMDM) pipelines: which stages run, what each reads, and the plans the flows run: ``motion-prep``,
``motion`` (every mask, seed 0) and ``motion-compare`` (every mask over every seed, and the ratio study at seed 0).

One text encoder and one evaluator serve every run; each run trains a denoiser, is
evaluated on valid and test, and (seed 0 at the default ratios) rendered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from seqmask.config import ExperimentConfig
from seqmask.experiment.runs import Run, expand, offset_seed
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.stages import evaluate, evaluator, prep, render, report, text_encoder, train
from seqmask.motion.stages.inputs import EVALUATOR, MODEL, PREP, TEXT
from seqmask.paths import resolve_path
from seqmask.stage import Pipeline, Plan, Stage

PRIORITY = {"evaluator": 3, "text-encoder": 3, "train": 2, "evaluate": 1, "render": 0}
"""What others wait for first: the shared encoders, then the trainings."""


def variant_name(mask: MotionMaskParams, default: bool) -> str:
    """``none``, ``time``, ``body`` at the configured ratios; ``time@0.5`` in the ratio study."""
    return mask.kind if default else f"{mask.kind}@{mask.ratio:g}"


def variants(config: ExperimentConfig, *, study: bool) -> dict[str, MotionMaskParams]:
    """Variant name -> mask: the configured masks, and with ``study`` every masked kind at every ``ratio_study`` ratio."""
    masks = [mask for kind in config.motion.comparison.variants for mask in config.motion.masks if mask.kind == kind]
    found = {variant_name(mask, True): mask for mask in masks}
    if study:
        for mask in masks:
            for ratio in config.motion.ratio_study:
                if mask.kind != "none" and ratio != mask.ratio:
                    found[variant_name(dataclasses.replace(mask, ratio=ratio), False)] = dataclasses.replace(mask, ratio=ratio)
    return found


PREP_STAGES = (
    Stage("motion-prep", 1, prep.build, config_of=lambda c: c.motion_prep, sources=lambda c: [resolve_path(c.motion_prep.bandai_dir)]),
)


def motion_pipeline(runs: Sequence[Run], masks: dict[str, MotionMaskParams], *, name: str) -> Pipeline:
    """Prep, the text encoder and the evaluator, a denoiser per run with its evaluation (and seed-0 renders), the report."""
    on_prep = {PREP: "motion-prep"}
    models = {**on_prep, TEXT: "motion-text-encoder"}
    stages = [
        *PREP_STAGES,
        Stage("motion-text-encoder", 1, text_encoder.build, inputs=on_prep, worker=True, priority=PRIORITY["text-encoder"], gpu=True,
              config_of=lambda c: c.motion.text_encoder,
              sources=lambda c: [resolve_path(c.motion.text_encoder.clip)] if c.motion.text_encoder.clip else []),
        Stage("motion-evaluator", 1, evaluator.build, inputs=on_prep, worker=True, priority=PRIORITY["evaluator"], gpu=True,
              config_of=lambda c: {"evaluator": c.motion.evaluator, "sampling": c.motion.sampling}),
    ]
    report_inputs = {"evaluator": "motion-evaluator"}
    for run in runs:
        mask = masks[run.variant]
        stages += [
            Stage(f"motion-train-{run.name}", 1, train.build, inputs=models, worker=True, priority=PRIORITY["train"], gpu=True,
                  config_of=lambda c, mask=mask, run=run: {
                      "mask": mask, "denoiser": c.motion.denoiser,
                      "diffusion": dataclasses.replace(c.motion.diffusion, train=offset_seed(c.motion.diffusion.train, run.seed)),
                  }),
            Stage(f"motion-eval-{run.name}", 1, evaluate.build, inputs={**models, EVALUATOR: "motion-evaluator", MODEL: f"motion-train-{run.name}"},
                  worker=True, priority=PRIORITY["evaluate"], gpu=True, config_of=lambda c: {"sampling": c.motion.sampling}),
        ]
        report_inputs[f"motion-eval-{run.name}"] = f"motion-eval-{run.name}"
        if run.seed == runs[0].seed and "@" not in run.variant:
            stages.append(Stage(f"motion-render-{run.name}", 1, render.build, inputs={**models, MODEL: f"motion-train-{run.name}"}, worker=True,
                                priority=PRIORITY["render"], config_of=lambda c: {
                                    "sampling": c.motion.sampling, "captions": c.motion.render_captions, "scale": c.motion_prep.scale}))
            report_inputs[f"motion-render-{run.name}"] = f"motion-render-{run.name}"
    stages.append(Stage("motion-report", 1, report.build, inputs=report_inputs, config_of=lambda c: {
        "runs": [[run.variant, run.seed] for run in runs], "baseline": c.motion.comparison.baseline, "variants": [[v, m.kind, m.ratio] for v, m in masks.items()],
        "default_ratio": {mask.kind: mask.ratio for mask in c.motion.masks}, "gates": c.motion.gates,
    }))
    return Pipeline(name, tuple(stages))


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
