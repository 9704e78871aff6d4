"""The text (LEM) pipelines: which stages run, what each reads, and the plans the flows run: ``text-prep``, ``text``
(the strategies, seed 0) and ``text-compare`` (every strategy over every seed).

One ``text-base`` encoder (from scratch with plain MLM, or ``init_from``) is shared by every continual run, as the paper
continues from one XLM-R; plain MLM's continual runs need no tags, so they start while tagging runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.experiment.runs import Run, offset_seed
from seqmask.paths import resolve_path
from seqmask.stage import Pipeline, Plan, Stage, stage_name, stage_of, training
from seqmask.text.artifacts import (
    BASE,
    BASE_MINED,
    CONTINUAL,
    CORPUS,
    ENCODER,
    MINED,
    MLM_MODEL,
    MLM_PHASE_MINED,
    MODEL,
    NGRAMS_MINED,
    TAG,
    TAGGERS,
    TOKENIZER,
    UNTRAINED_MINED,
    UNTRAINED_MODEL,
    run_role,
)
from seqmask.text.stages import (
    base,
    continual,
    mine,
    ngrams,
    prep,
    report,
    tag,
    taggers,
    tokenizer,
)

if TYPE_CHECKING:
    from seqmask.app.root import ExperimentConfig

CORPUS_INPUT = {CORPUS: stage_name(prep)}
TEXT_INPUTS = {**CORPUS_INPUT, TOKENIZER: stage_name(tokenizer)}
"""The inputs every model stage reads."""
PRIORITY = {"base": 2, "continual": 1}
"""The base encoder first: every continual run waits for it."""


def _prep_sources(config: ExperimentConfig) -> list[Path]:
    prep_config = config.text_prep
    paths = [
        resolve_path(prep_config.libreoffice_dir),
        resolve_path(prep_config.tatoeba_dir),
        resolve_path(prep_config.ud_dir),
    ]
    paths += [resolve_path(p) for files in prep_config.parallel for p in (files.source, files.target)]
    return paths + [resolve_path(file.path) for file in prep_config.monolingual]


def _tagger_sources(config: ExperimentConfig) -> list[Path]:
    return [resolve_path(t.treebank) for t in config.text.tag.taggers if t.treebank and not t.pipeline] + [
        resolve_path(t.pipeline) for t in config.text.tag.taggers if t.pipeline and resolve_path(t.pipeline).exists()
    ]


PREP_STAGES = (stage_of(prep, config_of=lambda c: c.text_prep, sources=_prep_sources),)


def _mine_stage(instance: str, encoder_stage: str, folder: str) -> Stage:
    """``text-mine-<instance>``: the encoder ``folder`` of ``encoder_stage`` mined."""
    return stage_of(
        mine,
        instance,
        inputs={**TEXT_INPUTS, ENCODER: encoder_stage},
        config_of=lambda c: mine.Config(mine=c.text.mine, folder=folder),
    )


def text_pipeline(runs: Sequence[Run], *, name: str) -> Pipeline:
    """Prep, tokenizer, taggers and tags, the base encoder, continual pretraining and mining per run, then the
    report."""

    def from_scratch(c):
        return c.text.base.init_from is None

    tagged = {TAG: stage_name(tag)}
    stages = [
        *PREP_STAGES,
        stage_of(
            tokenizer,
            inputs=CORPUS_INPUT,
            config_of=lambda c: tokenizer.Config(tokenizer=c.text.tokenizer, init_from=c.text.base.init_from),
            sources=lambda c: [resolve_path(p) for p in (c.text.tokenizer.model, c.text.base.init_from) if p],
        ),
        stage_of(taggers, inputs=CORPUS_INPUT, sources=_tagger_sources, config_of=lambda c: c.text.tag),
        stage_of(
            tag,
            inputs={**CORPUS_INPUT, TAGGERS: stage_name(taggers)},
            config_of=lambda c: tag.Config(sentences_per_task=c.text.tag.sentences_per_task),
        ),
        stage_of(
            base,
            inputs=TEXT_INPUTS,
            **training(PRIORITY["base"]),
            config_of=lambda c: base.Config(base=c.text.base, encoder=c.text.encoder),
            sources=lambda c: [resolve_path(c.text.base.init_from)] if c.text.base.init_from else [],
        ),
        stage_of(ngrams, inputs=CORPUS_INPUT, config_of=lambda c: ngrams.Config(mine=c.text.mine)),
        dataclasses.replace(_mine_stage("untrained", stage_name(base), UNTRAINED_MODEL), enabled=from_scratch),
        _mine_stage("base", stage_name(base), MODEL),
    ]
    per_run = {}
    for run in runs:
        trained = stage_name(continual, run.name)
        stages += [
            stage_of(
                continual,
                run.name,
                **training(PRIORITY["continual"]),
                inputs={**TEXT_INPUTS, BASE: stage_name(base), **(tagged if run.variant == "lem" else {})},
                config_of=lambda c, run=run: continual.Config(
                    strategy=run.variant,
                    continual=dataclasses.replace(
                        c.text.continual,
                        mlm=offset_seed(c.text.continual.mlm, run.seed),
                        tlm=offset_seed(c.text.continual.tlm, run.seed),
                    ),
                ),
            ),
            _mine_stage(run.name, trained, MODEL),
            _mine_stage(f"{run.name}-{MLM_PHASE_MINED}", trained, MLM_MODEL),
        ]
        per_run.update(
            {
                run_role(CONTINUAL, run.name): trained,
                run_role(MINED, run.name): stage_name(mine, run.name),
                run_role(MINED, f"{run.name}-{MLM_PHASE_MINED}"): stage_name(mine, f"{run.name}-{MLM_PHASE_MINED}"),
            }
        )
    stages.append(
        stage_of(
            report,
            inputs={
                **TEXT_INPUTS,
                **tagged,
                NGRAMS_MINED: stage_name(ngrams),
                UNTRAINED_MINED: stage_name(mine, "untrained"),
                BASE_MINED: stage_name(mine, "base"),
                **per_run,
            },
            config_of=lambda c: report.Config(
                runs=tuple((run.variant, run.seed) for run in runs),
                baseline=c.text.comparison.baseline,
                centre=c.text.mine.centre,
                k=c.text.mine.k,
                gates=c.text.gates,
                units=c.text.continual.units,
                lem=c.text.continual.lem,
            ),
        )
    )
    return Pipeline(name, tuple(stages))


# --- what each flow runs ---------------------------------------------------------------------


def text_prep_plan(config: ExperimentConfig) -> Plan:
    """Cleaned sentences and pairs with their splits."""
    return [(Pipeline("text-prep", PREP_STAGES), config)]


def text_plan(config: ExperimentConfig) -> Plan:
    """The configured strategies, seed 0: the text job of ``make run``."""
    return [(text_pipeline(config.text.comparison.main_runs(), name="text"), config)]


def text_compare_plan(config: ExperimentConfig) -> Plan:
    """Every strategy over every seed."""
    return [(text_pipeline(config.text.comparison.runs(), name="text-compare"), config)]
