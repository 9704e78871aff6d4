"""The utterances a model stage reads: the records of its ``splits`` input with the filterbanks of its ``features``
input (and the subset its ``labelled`` input kept), their files read through :mod:`seqmask.speech.readers`.

Apart from the readers, so that the stages that only prepare or name files do not have the feature code in their
keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from seqmask.speech.features import Utterance, load_utterances
from seqmask.speech.readers import read_feature_index, read_labelled_ids, records

if TYPE_CHECKING:
    from seqmask.stage import StageContext

PRETRAIN_SPLITS = ("train", "unlabelled")
"""Audio the encoder is pretrained on (text ignored)."""
TEST_SPLITS = ("test_matched", "test_mismatched")


def utterances(ctx: StageContext, splits: Sequence[str], corpora: Sequence[str] | None = None) -> list[Utterance]:
    """Utterances of ``splits`` (of ``corpora`` only, when given) with their filterbanks from the ``features`` input."""
    features = ctx.input_path("features")
    found = records(ctx.input_path("splits"), splits, corpora)
    return load_utterances(features, found, read_feature_index(features))


def labelled(found: Sequence[Utterance]) -> list[Utterance]:
    """The utterances with a transcript."""
    return [u for u in found if u.text]


def labelled_subset(ctx: StageContext) -> list[Utterance]:
    """The utterances the ``labelled`` input kept: the labelled target subset the scorer and fine-tuning train on."""
    kept = read_labelled_ids(ctx.input_path("labelled"))
    return [u for u in utterances(ctx, ("train",)) if u.id in kept]
