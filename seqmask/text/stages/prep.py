"""Stage ``text-prep``: every text source read on Dask, split so that no mining pair reaches pretraining, rejects
kept."""

from __future__ import annotations

import collections
from functools import partial
from typing import TYPE_CHECKING

from seqmask.data.bitext import Limits
from seqmask.experiment.comparison import SUMMARY
from seqmask.files import write_json, write_jsonl
from seqmask.text.artifacts import MINING_SETS, MONOLINGUAL, PARALLEL, REJECTS, SUMMARY_JSON, mining_set_file
from seqmask.text.config import TextPrepConfig
from seqmask.text.prep import read_source, sources_of, split_corpus

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ()
WRITES = (MONOLINGUAL, PARALLEL, MINING_SETS, REJECTS, SUMMARY_JSON, SUMMARY)
Config = TextPrepConfig
"""The whole ``text_prep`` section: which sources, their limits and the held-out selection."""


def build(ctx: StageContext) -> None:
    """``monolingual.jsonl``, ``parallel.jsonl`` (training text), ``mining/{valid,test}/<pair>.jsonl``,
    ``rejects.jsonl``, ``summary.json`` and ``summary.md``."""
    config: Config = ctx.config
    limits = Limits(
        min_chars=config.min_chars, max_chars=config.max_chars, max_inflated_bytes=config.max_inflated_bytes
    )
    found = ctx.executor.map(partial(read_source, limits=limits), sources_of(config), desc="text sources")
    corpus = split_corpus(found, test_pairs=config.test_pairs, valid_pairs=config.valid_pairs, seed=config.seed)
    write_jsonl(ctx.out / MONOLINGUAL, corpus.monolingual)
    write_jsonl(ctx.out / PARALLEL, corpus.parallel)
    for split, sets in corpus.mining.items():
        (ctx.out / MINING_SETS / split).mkdir(parents=True)
        for name, pairs in sets.items():
            write_jsonl(mining_set_file(ctx.out, split, name), pairs)
    write_jsonl(ctx.out / REJECTS, corpus.rejects)
    summary = {
        "monolingual": dict(sorted(collections.Counter(s.language for s in corpus.monolingual).items())),
        "parallel": dict(
            sorted(collections.Counter(f"{p.source_language}-{p.target_language}" for p in corpus.parallel).items())
        ),
        "mining": {split: {name: len(pairs) for name, pairs in sets.items()} for split, sets in corpus.mining.items()},
        "rejects": dict(sorted(collections.Counter(r.reason for r in corpus.rejects).items())),
    }
    write_json(ctx.out / SUMMARY_JSON, summary)
    (ctx.out / SUMMARY).write_text(_table(summary), encoding="utf-8")


def _table(summary: dict) -> str:
    lines = ["| text | count |", "|:---|---:|"]
    lines += [f"| monolingual {language} | {n} |" for language, n in summary["monolingual"].items()]
    lines += [f"| training pairs {pair} | {n} |" for pair, n in summary["parallel"].items()]
    lines += [
        f"| {split} pairs {name} | {n} |" for split, sets in summary["mining"].items() for name, n in sets.items()
    ]
    reasons = ", ".join(f"{reason}: {n}" for reason, n in summary["rejects"].items()) or "none"
    return "\n".join(lines) + f"\n\nRejected lines: {reasons}\n"
