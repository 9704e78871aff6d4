"""Stage ``speech-splits``: one manifest per split over every corpus, shards hard-linked in, rejects and a summary
table."""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqmask.data.manifest import SPLITS, AudioRecord
from seqmask.data.rejects import Reject
from seqmask.files import write_jsonl
from seqmask.speech import artifacts, readers
from seqmask.speech.corpus_prep import write_summary

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("fsdd", "ljspeech", "espeak", "user")
"""The corpus stages' artifacts, by corpus (``seqmask.speech.config.CORPORA``)."""
WRITES = (
    artifacts.MANIFESTS,
    *(artifacts.split_manifest(split) for split in SPLITS),
    artifacts.REJECTS,
    artifacts.SUMMARY_JSON,
    artifacts.SPLITS_TABLE,
)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The splits every corpus's records go to."""

    splits: tuple[str, ...]
    """One manifest each (``seqmask.data.manifest.SPLITS``)."""


def build(ctx: StageContext) -> None:
    """One manifest per split over every corpus, with shards hard-linked in so the artifact stands alone.

    Corpora (roles) are read in the pipeline's order (fsdd, ljspeech, espeak, user); a record whose id an
    earlier corpus already used is rejected as ``duplicate_id``.
    """
    by_split: dict[str, list[AudioRecord]] = {split: [] for split in SPLITS}
    rejects: list[Reject] = []
    first_source: dict[str, str] = {}
    for name, ref in ctx.inputs.items():
        for record in readers.read_manifest(ref.path):
            if record.id in first_source:
                detail = f"id already used by corpus {first_source[record.id]!r}"
                rejects.append(
                    Reject(
                        origin=record.audio, id=record.id, reason="duplicate_id", detail=detail, source=record.source
                    )
                )
                continue
            first_source[record.id] = name
            shard = f"{artifacts.SHARDS}/{name}/{Path(record.shard).name}"
            target = ctx.out / shard
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(ref.path / record.shard, target)
            if record.split not in by_split:
                where = ref.path / artifacts.MANIFEST
                raise ValueError(f"{where}: record {record.id!r} has split {record.split!r}, expected one of {SPLITS}")
            by_split[record.split].append(dataclasses.replace(record, shard=shard))
        rejects.extend(readers.read_rejects(ref.path))
    (ctx.out / artifacts.MANIFESTS).mkdir()
    for split, records in by_split.items():
        write_jsonl(ctx.out / artifacts.split_manifest(split), sorted(records, key=lambda r: r.id))
    write_jsonl(ctx.out / artifacts.REJECTS, rejects)
    all_records = [r for records in by_split.values() for r in records]
    write_summary(ctx.out, all_records, rejects)
    (ctx.out / artifacts.SPLITS_TABLE).write_text(split_table(all_records, rejects), encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def split_table(records: Sequence[AudioRecord], rejects: Sequence[Reject]) -> str:
    """Markdown table of utterances and hours per source and split, plus rejects per reason."""
    cells: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for record in records:
        label = f"{record.source} (synthetic)" if record.synthetic else record.source
        cell = cells[(label, record.split)]
        cell[0] += 1
        cell[1] += record.duration / 3600
    sources = sorted({source for source, _ in cells})
    lines = ["| source | " + " | ".join(SPLITS) + " |", "|---" * (len(SPLITS) + 1) + "|"]
    for source in sources:
        row = [
            f"{int(cells[(source, s)][0])} / {cells[(source, s)][1]:.2f} h" if (source, s) in cells else "-"
            for s in SPLITS
        ]
        lines.append(f"| {source} | " + " | ".join(row) + " |")
    reasons = collections.Counter(r.reason for r in rejects)
    lines += ["", "Rejected records: " + (", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "none")]
    return "\n".join(lines) + "\n"
