"""Stage ``speech-labelled``: the labelled target subset (N utterances per speaker, drawn with a seed) that the scorer
and every fine-tuning run train on; the rest of the target's train audio is unlabelled for them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqmask.data.audio import record_rng
from seqmask.data.manifest import AudioRecord
from seqmask.files import write_json
from seqmask.speech import artifacts, readers

if TYPE_CHECKING:
    from seqmask.stage import StageContext

VERSION = 1
ROLES = ("splits",)
WRITES = (artifacts.LABELLED, artifacts.SUMMARY_JSON)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Which train utterances keep their transcripts."""

    target: tuple[str, ...]
    """The target corpora (``speech.data.target``)."""
    per_speaker: int | None
    """Utterances kept per speaker; None: all (``speech.data.labelled_per_speaker``)."""
    seed: int
    """Seed of the draw (``speech.data.labelled_seed``)."""


def build(ctx: StageContext) -> None:
    """The labelled subset (id, speaker, source, seconds, text per utterance) and a summary per speaker."""
    target, per_speaker, seed = ctx.config.target, ctx.config.per_speaker, ctx.config.seed
    by_speaker: dict[tuple[str, str], list[AudioRecord]] = defaultdict(list)
    for record in readers.records(ctx.input_path("splits"), ("train",), target):
        if record.text:
            by_speaker[(record.source, record.speaker)].append(record)
    if not by_speaker:
        raise ValueError(f"the target corpora {list(target)} have no labelled train utterances")
    kept: list[AudioRecord] = []
    for (source, speaker), found in sorted(by_speaker.items()):
        found.sort(key=lambda r: r.id)
        if per_speaker is not None and per_speaker < len(found):
            order = record_rng(seed, f"{source}/{speaker}").permutation(len(found))[:per_speaker]
            found = sorted((found[i] for i in order), key=lambda r: r.id)
        kept += found
    with (ctx.out / artifacts.LABELLED).open("w", encoding="utf-8") as out:
        for r in kept:
            out.write(
                json.dumps(
                    {"id": r.id, "speaker": r.speaker, "source": r.source, "seconds": r.duration, "text": r.text}
                )
                + "\n"
            )
    write_json(
        ctx.out / artifacts.SUMMARY_JSON,
        {
            "utterances": len(kept),
            "minutes": round(sum(r.duration for r in kept) / 60, 2),
            "per_speaker": dict(sorted(Counter(f"{r.source}/{r.speaker}" for r in kept).items())),
        },
    )
