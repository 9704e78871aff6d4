"""The text (LEM) pipelines: which stages run, what each reads, and the plans the flows run: ``text-prep``, ``text``
(the strategies, seed 0) and ``text-compare`` (every strategy over every seed).

One ``text-base`` encoder (from scratch with plain MLM, or ``init_from``) is shared by every continual run, as the paper
continues from one XLM-R; plain MLM's continual runs need no tags, so they start while tagging runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from seqmask.config import ExperimentConfig
from seqmask.experiment.runs import Run, offset_seed
from seqmask.paths import resolve_path
from seqmask.stage import Pipeline, Plan, Stage
from seqmask.text.stages import (
    base,
    continual,
    mine,
    prep,
    report,
    tag,
    taggers,
    tokenizer,
)

CORPUS = {"corpus": "text-prep"}
TEXT = {**CORPUS, "tokenizer": "tokenizer"}
"""The inputs every model stage reads."""
PRIORITY = {"base": 2, "continual": 1}
"""The base encoder first: every continual run waits for it."""


def _prep_sources(config: ExperimentConfig) -> list[Path]:
    prep_config = config.text_prep
    paths = [resolve_path(prep_config.libreoffice_dir), resolve_path(prep_config.tatoeba_dir), resolve_path(prep_config.ud_dir)]
    paths += [resolve_path(p) for files in prep_config.parallel for p in (files.source, files.target)]
    return paths + [resolve_path(file.path) for file in prep_config.monolingual]


def _tagger_sources(config: ExperimentConfig) -> list[Path]:
    return [resolve_path(t.treebank) for t in config.text.tag.taggers if t.treebank and not t.pipeline] + [
        resolve_path(t.pipeline) for t in config.text.tag.taggers if t.pipeline and resolve_path(t.pipeline).exists()
    ]


PREP_STAGES = (Stage("text-prep", 1, prep.build, config_of=lambda c: c.text_prep, sources=_prep_sources),)


def _mine_stage(name: str, model_stage: str, folder: str) -> Stage:
    return Stage(
        f"mine-{name}", 1, mine.build, inputs={**TEXT, "model": model_stage},
        config_of=lambda c: {"mine": c.text.mine, "folder": folder},
    )


def text_pipeline(runs: Sequence[Run], *, name: str) -> Pipeline:
    """Prep, tokenizer, taggers and tags, the base encoder, continual pretraining and mining per run, then the report."""
    from_scratch = lambda c: c.text.base.init_from is None
    stages = [
        *PREP_STAGES,
        Stage(
            "tokenizer", 1, tokenizer.build, inputs=CORPUS, config_of=lambda c: {"tokenizer": c.text.tokenizer, "init_from": c.text.base.init_from},
            sources=lambda c: [resolve_path(p) for p in (c.text.tokenizer.model, c.text.base.init_from) if p],
        ),
        Stage("taggers", 1, taggers.build, inputs=CORPUS, sources=_tagger_sources, config_of=lambda c: c.text.tag),
        Stage("tag", 1, tag.build, inputs={**CORPUS, "taggers": "taggers"}, config_of=lambda c: {"sentences_per_task": c.text.tag.sentences_per_task}),
        Stage(
            "text-base", 1, base.build, inputs=TEXT, worker=True, priority=PRIORITY["base"], gpu=True,
            config_of=lambda c: {"base": c.text.base, "encoder": c.text.encoder},
            sources=lambda c: [resolve_path(c.text.base.init_from)] if c.text.base.init_from else [],
        ),
        Stage("mine-ngrams", 1, mine.build_ngrams, inputs=CORPUS, config_of=lambda c: {"mine": c.text.mine}),
        dataclasses.replace(_mine_stage("untrained", "text-base", "untrained"), enabled=from_scratch),
        _mine_stage("base", "text-base", "model"),
    ]
    report_inputs = {**TEXT, "tag": "tag", **{name: name for name in ("mine-ngrams", "mine-untrained", "mine-base")}}
    for run in runs:
        inputs = {**TEXT, "base": "text-base", **({"tag": "tag"} if run.variant == "lem" else {})}
        stages += [
            Stage(
                f"continual-{run.name}", 1, continual.build, inputs=inputs, worker=True, priority=PRIORITY["continual"], gpu=True,
                config_of=lambda c, run=run: {
                    "strategy": run.variant,
                    "continual": dataclasses.replace(
                        c.text.continual, mlm=offset_seed(c.text.continual.mlm, run.seed), tlm=offset_seed(c.text.continual.tlm, run.seed),
                    ),
                },
            ),
            _mine_stage(run.name, f"continual-{run.name}", "model"),
            _mine_stage(f"{run.name}-mlm-phase", f"continual-{run.name}", "mlm_model"),
        ]
        report_inputs.update({n: n for n in (f"continual-{run.name}", f"mine-{run.name}", f"mine-{run.name}-mlm-phase")})
    stages.append(Stage(
        "text-report", 1, report.build, inputs=report_inputs,
        config_of=lambda c: {
            "runs": [[run.variant, run.seed] for run in runs], "baseline": c.text.comparison.baseline, "centre": c.text.mine.centre, "k": c.text.mine.k, "gates": c.text.gates,
            "units": c.text.continual.units, "lem": c.text.continual.lem,
        },
    ))
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

