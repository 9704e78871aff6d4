"""Reading a speech stage's inputs: the manifests of ``splits`` and the filterbanks of ``features``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from seqmask.files import read_jsonl
from seqmask.data.manifest import AudioRecord
from seqmask.speech.features import Utterance, load_utterances

if TYPE_CHECKING:
    from seqmask.stage import StageContext

PRETRAIN_SPLITS = ("train", "unlabelled")
"""Audio the encoder is pretrained on (text ignored)."""
TEST_SPLITS = ("test_matched", "test_mismatched")


def records(ctx: StageContext, splits: Sequence[str], corpora: Sequence[str] | None = None) -> list[AudioRecord]:
    """Manifest records of ``splits`` (of ``corpora`` only, when given) from the ``splits`` input."""
    manifests = ctx.input_path("splits") / "manifests"
    found = [record for split in splits for record in read_jsonl(manifests / f"{split}.jsonl", AudioRecord)]
    return found if corpora is None else [record for record in found if record.source in corpora]


def utterances(ctx: StageContext, splits: Sequence[str], corpora: Sequence[str] | None = None) -> list[Utterance]:
    """Utterances of ``splits`` (of ``corpora`` only, when given) with their filterbanks from the ``features`` input."""
    features = ctx.input_path("features")
    index = json.loads((features / "index.json").read_text(encoding="utf-8"))
    return load_utterances(features, records(ctx, splits, corpora), index)


def labelled(found: Sequence[Utterance]) -> list[Utterance]:
    """The utterances with a transcript."""
    return [u for u in found if u.text]


def labelled_subset(ctx: StageContext) -> list[Utterance]:
    """The utterances the ``labelled`` input kept: the labelled target subset the scorer and fine-tuning train on."""
    kept = {json.loads(line)["id"] for line in (ctx.input_path("labelled") / "labelled.jsonl").read_text(encoding="utf-8").splitlines()}
    return [u for u in utterances(ctx, ("train",)) if u.id in kept]
