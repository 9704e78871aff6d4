"""The speech pipelines: which stages run, what each reads (inputs by role, its config slice, raw files).

Stage builders live one per module in :mod:`seqmask.speech.stages`, so a stage's code
hash covers only what it runs. The plans at the end are what the flows (and
``seqmask run FLOW --dry-run``) run: ``speech-prep``, ``speech``, ``speech-compare`` and
``speech-study``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from seqmask.config import ExperimentConfig
from seqmask.data.espeak import espeak_version
from seqmask.data.manifest import SPLITS
from seqmask.data.user import collect_user_manifest
from seqmask.experiment.runs import Run, expand, offset_seed
from seqmask.experiment.study import StudyPlan, plan_from_dict, point_configs
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.paths import resolve_path
from seqmask.speech.config import (
    BASELINE,
    CORPORA,
    NO_PRETRAINING,
    VARIANTS,
    PretrainConfig,
    SpeechPrepConfig,
)
from seqmask.speech.stages import (
    espeak,
    evaluate,
    features,
    finetune,
    fsdd,
    labelled,
    ljspeech,
    pretrain,
    report,
    scorer,
    scores,
    splits,
    study,
    synth,
    user,
)
from seqmask.speech.stages.corpus import CorpusPrep
from seqmask.stage import Pipeline, Plan, Stage


def _corpus(corpus_of: Callable[[SpeechPrepConfig], Any], *, require_text: bool) -> Callable[[ExperimentConfig], CorpusPrep]:
    """The config slice of a corpus stage: its own settings and the shared decoding settings."""

    def config_of(config: ExperimentConfig) -> CorpusPrep:
        prep = config.speech_prep
        return CorpusPrep(
            corpus=corpus_of(prep), checks=prep.checks, require_text=require_text, shard_seconds=prep.shard_seconds, seed=prep.seed,
        )

    return config_of


def user_sources(config: ExperimentConfig) -> list[Path]:
    """Every file the ``user`` stage reads: the manifest and each audio file it names (a missing one is rejected
    by the stage; once it exists it is listed, which changes the key), or the audio folder and transcripts."""
    corpus = config.speech_prep.user
    if corpus.manifest is not None:
        manifest = resolve_path(corpus.manifest)
        audio = (Path(record.audio) for record in collect_user_manifest(manifest))
        return [manifest, *(path for path in audio if path.is_file())]
    return [resolve_path(path) for path in (corpus.audio_dir, corpus.transcripts) if path]


PREP_STAGES = (
    Stage(
        "fsdd", 1, fsdd.build,
        config_of=_corpus(lambda p: {"dir": p.fsdd_dir, "heldout_speaker": p.fsdd_heldout_speaker}, require_text=True),
        sources=lambda c: [resolve_path(c.speech_prep.fsdd_dir)],
    ),
    Stage(
        "ljspeech", 1, ljspeech.build,
        config_of=_corpus(lambda p: {"dir": p.ljspeech_dir}, require_text=False),
        sources=lambda c: [resolve_path(c.speech_prep.ljspeech_dir)],
    ),
    Stage(
        "espeak-synth", 1, synth.build,
        config_of=lambda c: {
            "synth": c.speech_prep.synth, "tatoeba_dir": c.speech_prep.tatoeba_dir, "seed": c.speech_prep.seed, "espeak": espeak_version(),
        },
        sources=lambda c: [resolve_path(c.speech_prep.tatoeba_dir)],
        enabled=lambda c: c.speech_prep.synth.enabled,
    ),
    Stage(
        "espeak", 1, espeak.build, config_of=_corpus(lambda p: {}, require_text=True), inputs={"synth": "espeak-synth"},
        enabled=lambda c: c.speech_prep.synth.enabled,
    ),
    Stage(
        "user", 1, user.build, config_of=_corpus(lambda p: p.user, require_text=False), sources=user_sources,
        enabled=lambda c: c.speech_prep.user.enabled,
    ),
    Stage("splits", 1, splits.build, config_of=lambda c: {"splits": SPLITS}, inputs={name: name for name in CORPORA}),
)
"""Speech data preparation: one stage per corpus, then the merged splits."""

DATA = {"splits": "splits", "features": "features"}
"""The inputs every model stage reads."""
PRIORITY = {"scorer": 4, "long reference": 3, "pretraining": 2, "fine-tuning": 1}
"""Which training waits least for a worker: the scorer (the Ask2Mask runs wait for it), the long reference (started
early, it ends with the rest), pretraining (fine-tuning waits for it), fine-tuning and the short references."""
LONG_REFERENCES = ("espeak",)
"""References on long utterances: hours of read speech, not digits."""


def speech_pipeline(runs: Sequence[Run], *, name: str) -> Pipeline:
    """Prep, features, the labelled subset, scorer and scores, the supervised references, then
    pretrain/finetune/evaluate per run, then the report."""
    stages = [
        *PREP_STAGES,
        Stage("features", 1, features.build, config_of=lambda c: {}, inputs={"splits": "splits"}),
        Stage(
            "labelled", 1, labelled.build, inputs={"splits": "splits"},
            config_of=lambda c: {"target": c.speech.data.target, "per_speaker": c.speech.data.labelled_per_speaker, "seed": c.speech.data.labelled_seed},
        ),
        Stage(
            "scorer", 1, scorer.build, config_of=lambda c: {"scorer": c.speech.scorer, "target": c.speech.data.target},
            inputs={**DATA, "labelled": "labelled"}, worker=True, priority=PRIORITY["scorer"], gpu=True,
            sources=lambda c: [resolve_path(c.speech.scorer.checkpoint)] if c.speech.scorer.checkpoint else [],
        ),
        Stage(
            "scores", 1, scores.build, config_of=lambda c: {"scores": c.speech.scores, "corpora": c.speech.data.pretrain},
            inputs={**DATA, "scorer": "scorer"},
        ),
    ]
    report_inputs = {**DATA, "scores": "scores"}
    for reference in CORPORA:
        stages += _finetune_and_evaluate(f"reference-{reference}", seed=0, reference=reference)
        report_inputs[f"evaluate-reference-{reference}"] = f"evaluate-reference-{reference}"
    for run in runs:
        if run.variant != NO_PRETRAINING:
            stages.append(_pretrain_stage(run))
            report_inputs[f"pretrain-{run.name}"] = f"pretrain-{run.name}"
        stages += _finetune_and_evaluate(run.name, seed=run.seed, variant=run.variant)
        report_inputs[f"evaluate-{run.name}"] = f"evaluate-{run.name}"
    stages.append(Stage(
        "report", 1, report.build, inputs=report_inputs,
        config_of=lambda c: {
            "runs": [[run.variant, run.seed] for run in runs], "baseline": c.speech.comparison.baseline, "mask": c.speech.pretrain.mask, "data": c.speech.data,
            "references": [ref for ref in c.speech.references if _corpus_enabled(c, ref.corpus)],
        },
    ))
    return Pipeline(name, tuple(stages))


def _finetune_and_evaluate(name: str, *, seed: int, variant: str | None = None, reference: str | None = None) -> list[Stage]:
    """CTC training and its evaluation: a variant on the labelled target subset (from its pretrained encoder unless
    ``none``), or a reference on all labelled train audio of its corpus, from scratch."""
    inputs = dict(DATA) if reference else {**DATA, "labelled": "labelled"}
    if variant not in (None, NO_PRETRAINING):
        inputs["pretrain"] = f"pretrain-{name}"

    def enabled(c: ExperimentConfig) -> bool:  # a reference runs when ``speech.references`` names its corpus
        return reference is None or any(ref.corpus == reference for ref in c.speech.references) and _corpus_enabled(c, reference)

    def corpora(c: ExperimentConfig) -> tuple[str, ...]:
        return (reference,) if reference else c.speech.data.target

    finetune_stage = Stage(
        f"finetune-{name}", 1, finetune.build, inputs=inputs, enabled=enabled, worker=True, gpu=True,
        priority=PRIORITY["long reference" if reference in LONG_REFERENCES else "fine-tuning"],
        config_of=lambda c: {
            "finetune": dataclasses.replace(
                c.speech.finetune, train=_training(c, seed, reference),
                freeze_encoder_steps=0 if reference else c.speech.finetune.freeze_encoder_steps,  # one recipe for every variant
            ),
            "encoder": c.speech.encoder, **({"corpora": corpora(c)} if reference else {}),
        },
    )
    evaluate_stage = Stage(
        f"evaluate-{name}", 1, evaluate.build, inputs={**DATA, "finetune": f"finetune-{name}"}, enabled=enabled,
        config_of=lambda c: {"variant": variant or f"reference {reference}", "corpora": corpora(c)},
    )
    return [finetune_stage, evaluate_stage]


def _corpus_enabled(config: ExperimentConfig, corpus: str) -> bool:
    """Whether a corpus stage is part of a run."""
    stage = next(stage for stage in PREP_STAGES if stage.name == corpus)
    return stage.enabled(config)


def _training(config: ExperimentConfig, seed: int, reference: str | None) -> Any:
    """Fine-tuning's training config for a run's seed; a reference's own steps (warm-up scaled with them) when it has them."""
    train = offset_seed(config.speech.finetune.train, seed)
    steps = next((ref.steps for ref in config.speech.references if ref.corpus == reference), None)
    if steps is None:
        return train
    return dataclasses.replace(train, steps=steps, warmup_steps=round(train.warmup_steps * steps / train.steps))


def _variant_pretrain_config(config: PretrainConfig, variant: str, seed: int) -> PretrainConfig:
    """The pretraining config of one variant and seed; ``random`` keeps only the span parameters it uses,
    so that sweeping Ask2Mask's own parameters reuses the random baseline."""
    mask = config.mask
    if variant == BASELINE:
        mask = Ask2MaskParams(span_len=mask.span_len, max_mask_prob=mask.max_mask_prob, min_num_spans=mask.min_num_spans)
    return dataclasses.replace(config, mask=mask, train=offset_seed(config.train, seed))


def _pretrain_stage(run: Run) -> Stage:
    inputs = dict(DATA) if run.variant == BASELINE else {**DATA, "scores": "scores"}
    return Stage(
        f"pretrain-{run.name}", 1, pretrain.build,
        config_of=lambda c: {
            "variant": run.variant, "pretrain": _variant_pretrain_config(c.speech.pretrain, run.variant, run.seed),
            "encoder": c.speech.encoder, "pack_seconds": c.speech.pack_seconds, "corpora": c.speech.data.pretrain,
        },
        inputs=inputs, worker=True, priority=PRIORITY["pretraining"], gpu=True,
        sources=lambda c: [resolve_path(c.speech.pretrain.init_checkpoint)] if c.speech.pretrain.init_checkpoint else [],
    )


def read_study(data: Mapping[str, Any], where: str = "study plan") -> StudyPlan:
    """A speech study plan: variants among the speech variants, compared against the random baseline."""
    return plan_from_dict(data, variants=VARIANTS, baseline=BASELINE, default_variants=(BASELINE, "ask2mask+utt"), where=where)


def study_pipeline(plan: StudyPlan) -> Pipeline:
    """The ``study`` stage, reading every point's ``report`` and ``scorer`` from the point's pipeline."""
    external = {f"{kind}-{point}": (f"study-{point}", kind) for point in plan.points for kind in ("report", "scorer")}
    stage = Stage("study", 1, study.build, config_of=lambda c: {"plan": plan}, inputs={name: name for name in external})
    return Pipeline("study", (stage,), external=external)


# --- what each flow runs ---------------------------------------------------------------------


def speech_prep_plan(config: ExperimentConfig) -> Plan:
    """Manifests and 16 kHz shards of every corpus."""
    return [(Pipeline("speech-prep", PREP_STAGES), config)]


def speech_plan(config: ExperimentConfig) -> Plan:
    """The configured variants, seed 0: the main job."""
    return [(speech_pipeline(config.speech.comparison.main_runs(), name="speech"), config)]


def speech_compare_plan(config: ExperimentConfig) -> Plan:
    """Every comparison variant over every seed."""
    return [(speech_pipeline(config.speech.comparison.runs(), name="speech-compare"), config)]


def speech_study_plan(config: ExperimentConfig, plan: Mapping[str, Any]) -> Plan:
    """Every point of the study plan (its variants x seeds), then the study table; ``plan`` as parsed YAML."""
    plan = read_study(plan)
    runs = expand(plan.variants, plan.seeds)
    points = [(speech_pipeline(runs, name=f"study-{point}"), point_config) for point, point_config in point_configs(config, plan).items()]
    return [*points, (study_pipeline(plan), config)]
