"""Short utterances of one speaker concatenated for pretraining, which ignores text (spoken digits are shorter
than the masking needs), with their frame confidences kept aligned."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from seqmask.masking.ask2mask import fit_scorer_frames
from seqmask.speech.features import FBANK_STRIDE, Utterance


def pack_short_utterances(
    utterances: Sequence[Utterance], scores: dict[str, Tensor] | None, *, min_encoder_frames: int
) -> tuple[list[Utterance], dict[str, Tensor] | None]:
    """Concatenate consecutive short utterances of one speaker until each pack has ``min_encoder_frames``.

    For pretraining, which ignores text: isolated digits (FSDD) are shorter than the
    masking needs.  Longer utterances pass through unchanged; a speaker's last short
    remainder is kept as it is.  Each part is cut to whole encoder frames, so the
    parts' scores (S_i,), concatenated, line up with the pack's encoder frames.
    """
    packed: list[Utterance] = []
    packed_scores: dict[str, Tensor] = {}
    by_speaker: dict[tuple[str, str], list[Utterance]] = {}
    for utterance in utterances:
        if utterance.encoder_frames >= min_encoder_frames:
            packed.append(utterance)
            if scores is not None:
                packed_scores[utterance.id] = scores[utterance.id]
        else:
            by_speaker.setdefault((utterance.source, utterance.speaker), []).append(utterance)
    for group in by_speaker.values():
        ordered = sorted(group, key=lambda u: u.id)
        pending: list[Utterance] = []
        for utterance in ordered:
            pending.append(utterance)
            if sum(u.encoder_frames for u in pending) >= min_encoder_frames or utterance is ordered[-1]:
                pack = _concatenate(pending)
                packed.append(pack)
                if scores is not None:
                    packed_scores[pack.id] = torch.cat(
                        [fit_scorer_frames(scores[u.id][None], u.encoder_frames)[0] for u in pending]
                    )  # (S_1,) ... (S_n,) -> (S,)
                pending = []
    return packed, (packed_scores if scores is not None else None)


def _concatenate(utterances: Sequence[Utterance]) -> Utterance:
    if len(utterances) == 1:
        return utterances[0]
    first = utterances[0]
    feats = torch.cat([u.feats[: FBANK_STRIDE * u.encoder_frames] for u in utterances])  # (sum 2 S_i, 80)
    return Utterance(f"{first.id}+{len(utterances) - 1}", feats, None, first.split, first.source, first.speaker)
