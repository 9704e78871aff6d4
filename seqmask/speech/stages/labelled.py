"""Stage ``labelled``: the labelled target subset (N utterances per speaker, drawn with a seed) that the scorer and
every fine-tuning run train on; the rest of the target's train audio is unlabelled for them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from seqmask.files import write_json
from seqmask.data.audio import record_rng
from seqmask.data.manifest import AudioRecord
from seqmask.speech.stages.inputs import records

if TYPE_CHECKING:
    from seqmask.stage import StageContext


def build(ctx: StageContext) -> None:
    """``labelled.jsonl`` (id, speaker, source, seconds, text per utterance) and a summary per speaker."""
    target, per_speaker, seed = ctx.config["target"], ctx.config["per_speaker"], ctx.config["seed"]
    by_speaker: dict[tuple[str, str], list[AudioRecord]] = defaultdict(list)
    for record in records(ctx, ("train",), target):
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
    with (ctx.out / "labelled.jsonl").open("w", encoding="utf-8") as out:
        for r in kept:
            out.write(json.dumps({"id": r.id, "speaker": r.speaker, "source": r.source, "seconds": r.duration, "text": r.text}) + "\n")
    write_json(ctx.out / "summary.json", {
        "utterances": len(kept), "minutes": round(sum(r.duration for r in kept) / 60, 2),
        "per_speaker": dict(sorted(Counter(f"{r.source}/{r.speaker}" for r in kept).items())),
    })
