"""Stage ``text-taggers``: a spaCy tagger for every language of the training text, trained on its UD treebank (one Dask
task per language) or an installed pipeline named in the config; held-out tagging accuracy in the summary."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from seqmask.files import write_json
from seqmask.paths import resolve_path
from seqmask.processes import run_owned
from seqmask.text.artifacts import CORPUS, MODEL, SUMMARY_JSON, TAGGER_SOURCES
from seqmask.text.config import TagConfig
from seqmask.text.readers import monolingual
from seqmask.text.tagging import load_tagger

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = (CORPUS,)
WRITES = (TAGGER_SOURCES, SUMMARY_JSON)
Config = TagConfig
"""The ``text.tag`` section: each language's tagger source, and the training of those trained here."""


def build(ctx: StageContext) -> None:
    """``<language>/model`` per trained tagger, ``taggers.json`` and ``summary.json`` (per language: accuracy or
    pipeline)."""
    config: Config = ctx.config
    languages = sorted({sentence.language for sentence in monolingual(ctx)})
    jobs = [
        (language, *_source(config, language), str(ctx.out / language), config.tagger_steps, config.heldout_share)
        for language in languages
    ]
    summaries = ctx.executor.map(_prepare, jobs, desc="taggers")
    sources = {language: summary.pop("source") for language, summary in zip(languages, summaries)}
    write_json(ctx.out / TAGGER_SOURCES, sources)
    write_json(ctx.out / SUMMARY_JSON, dict(zip(languages, summaries)))


def _source(config: Config, language: str) -> tuple[str, str]:
    """``("pipeline", name_or_dir)`` or ``("treebank", path)``; a language with neither is an error naming both
    fixes."""
    source = config.source(language)
    if source is not None and source.pipeline:
        return "pipeline", source.pipeline
    if source is not None and source.treebank:
        return "treebank", str(resolve_path(source.treebank))
    raise ValueError(
        f"no spaCy pipeline and no UD treebank for language {language!r} of the training text: add "
        f"{{language: {language}, pipeline: NAME_OR_DIR}} (an installed spaCy pipeline or a local pipeline directory) "
        f"or {{language: {language}, treebank: PATH}} (a UD .conllu treebank to train a tagger from) to "
        "text.tag.taggers"
    )


def _prepare(job: tuple[str, str, str, str, int, float]) -> dict[str, Any]:
    """Train one language's tagger (or check that its pipeline loads): its summary, with ``source``."""
    language, kind, where, out, steps, heldout_share = job
    if kind == "pipeline":
        return {"source": {"pipeline": where}, "components": list(load_tagger(where).pipe_names)}
    summary = _train_in_fresh_process(where, language, out, steps, heldout_share)
    return {"source": {"trained": f"{language}/{MODEL}"}, **summary}


def _train_in_fresh_process(treebank: str, language: str, out: str, steps: int, heldout_share: float) -> dict[str, Any]:
    """:func:`~seqmask.text.tagging.train_tagger` in a new Python process (one thread): a tagger trained in a process
    that had trained another one came out different, so each training starts from a fresh process and repeats exactly.
    The process dies with this call (:func:`~seqmask.processes.run_owned`): a cancelled task or a lost worker leaves no
    training behind to write into the artifact's build directory."""
    command = [sys.executable, "-m", "seqmask.text.tagging", treebank, language, out, str(steps), str(heldout_share)]
    done = run_owned(command, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"training the {language} tagger on {treebank} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
