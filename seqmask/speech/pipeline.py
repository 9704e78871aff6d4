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
from typing import TYPE_CHECKING, Any

from seqmask.data.espeak import espeak_version
from seqmask.data.manifest import SPLITS
from seqmask.data.user import collect_user_manifest
from seqmask.experiment.runs import Run, expand, offset_seed
from seqmask.experiment.study import StudyPlan, plan_from_dict, point_configs
from seqmask.masking.params.spans import Ask2MaskParams
from seqmask.paths import resolve_path
from seqmask.speech.artifacts import EVALUATE, POINT_REPORT, POINT_SCORER, PRETRAIN, run_role
from seqmask.speech.config import (
    BASELINE,
    CORPORA,
    NO_PRETRAINING,
    VARIANTS,
    PretrainConfig,
    SpeechPrepConfig,
)
from seqmask.speech.corpus_prep import CorpusPrep
from seqmask.speech.stages import (
    espeak,
    espeak_synth,
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
    user,
)
from seqmask.stage import Pipeline, Plan, Stage, stage_name, stage_of, training

if TYPE_CHECKING:
    from seqmask.app.root import ExperimentConfig

CORPUS_STAGES = {"fsdd": fsdd, "ljspeech": ljspeech, "espeak": espeak, "user": user}
"""The stage module of each corpus (:data:`seqmask.speech.config.CORPORA`, in its order)."""


def _corpus(
    make: Callable[..., CorpusPrep],
    *,
    require_text: bool,
    corpus_of: Callable[[SpeechPrepConfig], Any] | None = None,
) -> Callable[[ExperimentConfig], CorpusPrep]:
    """The config slice of a corpus stage, ``make`` (its module's ``Config``): its own settings (``corpus_of``, when it
    has any) and the shared decoding settings."""

    def config_of(config: ExperimentConfig) -> CorpusPrep:
        prep = config.speech_prep
        own = {} if corpus_of is None else {"corpus": corpus_of(prep)}
        shared = {"checks": prep.checks, "shard_seconds": prep.shard_seconds, "seed": prep.seed}
        return make(**own, **shared, require_text=require_text)

    return config_of


def user_sources(config: ExperimentConfig) -> list[Path]:
    """Every file the ``speech-user`` stage reads: the manifest and each audio file it names (a missing one is rejected
    by the stage; once it exists it is listed, which changes the key), or the audio folder and transcripts."""
    corpus = config.speech_prep.user
    if corpus.manifest is not None:
        manifest = resolve_path(corpus.manifest)
        audio = (Path(record.audio) for record in collect_user_manifest(manifest))
        return [manifest, *(path for path in audio if path.is_file())]
    return [resolve_path(path) for path in (corpus.audio_dir, corpus.transcripts) if path]


PREP_STAGES = (
    stage_of(
        fsdd,
        sources=lambda c: [resolve_path(c.speech_prep.fsdd_dir)],
        config_of=_corpus(
            fsdd.Config,
            require_text=True,
            corpus_of=lambda p: fsdd.Fsdd(dir=p.fsdd_dir, heldout_speaker=p.fsdd_heldout_speaker),
        ),
    ),
    stage_of(
        ljspeech,
        sources=lambda c: [resolve_path(c.speech_prep.ljspeech_dir)],
        config_of=_corpus(
            ljspeech.Config,
            require_text=False,
            corpus_of=lambda p: ljspeech.LjSpeech(dir=p.ljspeech_dir),
        ),
    ),
    stage_of(
        espeak_synth,
        sources=lambda c: [resolve_path(c.speech_prep.tatoeba_dir)],
        enabled=lambda c: c.speech_prep.synth.enabled,
        config_of=lambda c: espeak_synth.Config(
            synth=c.speech_prep.synth,
            tatoeba_dir=c.speech_prep.tatoeba_dir,
            seed=c.speech_prep.seed,
            espeak=espeak_version(),
        ),
    ),
    stage_of(
        espeak,
        config_of=_corpus(espeak.Config, require_text=True),
        inputs={"synth": stage_name(espeak_synth)},
        enabled=lambda c: c.speech_prep.synth.enabled,
    ),
    stage_of(
        user,
        config_of=_corpus(user.Config, require_text=False, corpus_of=lambda p: p.user),
        sources=user_sources,
        enabled=lambda c: c.speech_prep.user.enabled,
    ),
    stage_of(
        splits,
        config_of=lambda c: splits.Config(splits=SPLITS),
        inputs={corpus: stage_name(CORPUS_STAGES[corpus]) for corpus in CORPORA},
    ),
)
"""Speech data preparation: one stage per corpus, then the merged splits."""

DATA = {"splits": stage_name(splits), "features": stage_name(features)}
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
        stage_of(features, config_of=lambda c: features.Config(), inputs={"splits": stage_name(splits)}),
        stage_of(
            labelled,
            inputs={"splits": stage_name(splits)},
            config_of=lambda c: labelled.Config(
                target=c.speech.data.target,
                per_speaker=c.speech.data.labelled_per_speaker,
                seed=c.speech.data.labelled_seed,
            ),
        ),
        stage_of(
            scorer,
            config_of=lambda c: scorer.Config(scorer=c.speech.scorer, target=c.speech.data.target),
            inputs={**DATA, "labelled": stage_name(labelled)},
            **training(PRIORITY["scorer"]),
            sources=lambda c: [resolve_path(c.speech.scorer.checkpoint)] if c.speech.scorer.checkpoint else [],
        ),
        stage_of(
            scores,
            config_of=lambda c: scores.Config(scores=c.speech.scores, corpora=c.speech.data.pretrain),
            inputs={**DATA, "scorer": stage_name(scorer)},
        ),
    ]
    per_run: dict[str, str] = {}
    for reference in CORPORA:
        stages += _finetune_and_evaluate(f"reference-{reference}", seed=0, reference=reference)
        per_run[run_role(EVALUATE, f"reference-{reference}")] = stage_name(evaluate, f"reference-{reference}")
    for run in runs:
        if run.variant != NO_PRETRAINING:
            stages.append(_pretrain_stage(run))
            per_run[run_role(PRETRAIN, run.name)] = stage_name(pretrain, run.name)
        stages += _finetune_and_evaluate(run.name, seed=run.seed, variant=run.variant)
        per_run[run_role(EVALUATE, run.name)] = stage_name(evaluate, run.name)
    stages.append(
        stage_of(
            report,
            inputs={**DATA, "scores": stage_name(scores), **per_run},
            config_of=lambda c: report.Config(
                runs=tuple((run.variant, run.seed) for run in runs),
                baseline=c.speech.comparison.baseline,
                mask=c.speech.pretrain.mask,
                data=c.speech.data,
                references=tuple(ref for ref in c.speech.references if _corpus_enabled(c, ref.corpus)),
            ),
        )
    )
    return Pipeline(name, tuple(stages))


def _finetune_and_evaluate(
    name: str, *, seed: int, variant: str | None = None, reference: str | None = None
) -> list[Stage]:
    """CTC training and its evaluation: a variant on the labelled target subset (from its pretrained encoder unless
    ``none``), or a reference on all labelled train audio of its corpus, from scratch."""
    inputs = dict(DATA) if reference else {**DATA, "labelled": stage_name(labelled)}
    if variant not in (None, NO_PRETRAINING):
        inputs["pretrain"] = stage_name(pretrain, name)

    def enabled(c: ExperimentConfig) -> bool:  # a reference runs when ``speech.references`` names its corpus
        return (
            reference is None
            or any(ref.corpus == reference for ref in c.speech.references)
            and _corpus_enabled(c, reference)
        )

    def corpora(c: ExperimentConfig) -> tuple[str, ...]:
        return (reference,) if reference else c.speech.data.target

    finetune_stage = stage_of(
        finetune,
        name,
        inputs=inputs,
        enabled=enabled,
        **training(PRIORITY["long reference" if reference in LONG_REFERENCES else "fine-tuning"]),
        config_of=lambda c: finetune.Config(
            finetune=dataclasses.replace(
                c.speech.finetune,
                train=_training(c, seed, reference),
                freeze_encoder_steps=0
                if reference
                else c.speech.finetune.freeze_encoder_steps,  # one recipe for every variant
            ),
            encoder=c.speech.encoder,
            corpora=corpora(c) if reference else None,
        ),
    )
    evaluate_stage = stage_of(
        evaluate,
        name,
        inputs={**DATA, "finetune": finetune_stage.name},
        enabled=enabled,
        config_of=lambda c: evaluate.Config(variant=variant or f"reference {reference}", corpora=corpora(c)),
    )
    return [finetune_stage, evaluate_stage]


def _corpus_enabled(config: ExperimentConfig, corpus: str) -> bool:
    """Whether a corpus stage is part of a run."""
    name = stage_name(CORPUS_STAGES[corpus])
    return next(stage for stage in PREP_STAGES if stage.name == name).enabled(config)


def _training(config: ExperimentConfig, seed: int, reference: str | None) -> Any:
    """Fine-tuning's training config for a run's seed; a reference's own steps (warm-up scaled with them) when it has
    them."""
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
        mask = Ask2MaskParams(
            span_len=mask.span_len, max_mask_prob=mask.max_mask_prob, min_num_spans=mask.min_num_spans
        )
    return dataclasses.replace(config, mask=mask, train=offset_seed(config.train, seed))


def _pretrain_stage(run: Run) -> Stage:
    inputs = dict(DATA) if run.variant == BASELINE else {**DATA, "scores": stage_name(scores)}
    return stage_of(
        pretrain,
        run.name,
        inputs=inputs,
        **training(PRIORITY["pretraining"]),
        config_of=lambda c: pretrain.Config(
            variant=run.variant,
            pretrain=_variant_pretrain_config(c.speech.pretrain, run.variant, run.seed),
            encoder=c.speech.encoder,
            pack_seconds=c.speech.pack_seconds,
            corpora=c.speech.data.pretrain,
        ),
        sources=lambda c: (
            [resolve_path(c.speech.pretrain.init_checkpoint)] if c.speech.pretrain.init_checkpoint else []
        ),
    )


def read_study(data: Mapping[str, Any], where: str = "study plan") -> StudyPlan:
    """A speech study plan: variants among the speech variants, compared against the random baseline."""
    return plan_from_dict(
        data, variants=VARIANTS, baseline=BASELINE, default_variants=(BASELINE, "ask2mask+utt"), where=where
    )


def study_pipeline(plan: StudyPlan) -> Pipeline:
    """The ``speech-study`` stage, reading every point's ``speech-report`` and ``speech-scorer`` from the point's
    pipeline."""
    external = {
        run_role(role, point): (f"study-{point}", stage_name(module))
        for point in plan.points
        for role, module in ((POINT_REPORT, report), (POINT_SCORER, scorer))
    }
    studying = stage_of(study, config_of=lambda c: study.Config(plan=plan), inputs={name: name for name in external})
    return Pipeline("study", (studying,), external=external)


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
    points = [
        (speech_pipeline(runs, name=f"study-{point}"), point_config)
        for point, point_config in point_configs(config, plan).items()
    ]
    return [*points, (study_pipeline(plan), config)]
