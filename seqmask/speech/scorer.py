"""Frame scorers: per-frame CTC posteriors at the 20 ms encoder rate, and the confidences Ask2Mask uses.

Any CTC model can guide the masking through the :class:`FrameScorer` protocol;
:class:`CtcScorer` wraps a seqmask CTC checkpoint (``train_ctc``'s ``model.pt``).
:func:`score_utterances` turns posteriors into the frame confidences
``max_v p_t(v)`` (``"max"``, the paper's) or ``max_{v != blank} p_t(v)``
(``"nonblank"``) that are stored once and read by pretraining.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import torch
from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrModel
from torch import Tensor

from seqmask.masking.ask2mask import (
    fit_scorer_frames,
    frame_confidence,
    speech_probability,
)
from seqmask.speech.config import CONFIDENCES
from seqmask.speech.decode import ctc_logits, inference_batches
from seqmask.speech.features import SpeechBatch, Utterance
from seqmask.speech.model import load_asr
from seqmask.speech.vocab import BLANK_ID
from seqmask.training.device import default_device


class FrameScorer(Protocol):
    """Any CTC model that gives per-frame posteriors at the 20 ms encoder rate.

    Implement this to guide Ask2Mask with a scorer of your own: ``posteriors``
    takes a padded filterbank batch (``batch.feats`` ``(N, F, 80)`` on the CPU,
    ``batch.feat_lens`` its lengths) and returns ``(N, S, V)`` probabilities,
    ``S`` = the batch's longest encoder frame count (``max(batch.encoder_lens)``,
    one more or one fewer is tolerated), rows beyond an utterance's frames ignored.
    """

    def posteriors(self, batch: SpeechBatch) -> Tensor:
        """``(N, S, V)`` per-frame probabilities of ``batch``."""
        ...


class CtcScorer:
    """A :class:`FrameScorer` over a seqmask (fairseq2) wav2vec 2.0 CTC model: the softmax of its logits."""

    def __init__(self, model: Wav2Vec2AsrModel, device: torch.device | None = None) -> None:
        """Moves ``model`` to ``device`` (CUDA when present by default) and puts it in eval mode."""
        self.device = device or default_device()
        self.model = model.to(self.device).eval()

    @classmethod
    def load(cls, path: Path, device: torch.device | None = None) -> CtcScorer:
        """The scorer of a CTC checkpoint; a missing file or another kind of checkpoint raises (``load_asr``)."""
        model, _ = load_asr(path)
        return cls(model, device)

    def posteriors(self, batch: SpeechBatch) -> Tensor:
        """``(N, F, 80)`` filterbanks -> ``(N, S, V)`` float32 probabilities."""
        logits = ctc_logits(self.model, batch.to(self.device))  # (N, F, 80) -> (N, S, V)
        return logits.softmax(dim=-1)  # (N, S, V) -> (N, S, V)


def score_utterances(
    scorer: FrameScorer,
    utterances: Sequence[Utterance],
    *,
    confidence: str = "max",
    max_frames: int = 20000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Tensor]:
    """Frame confidences by utterance id: ``(S_i,)`` float32 on the CPU, ``S_i`` = its encoder frames.

    ``confidence`` is ``"max"`` (``max_v p_t(v)``, the paper's), ``"nonblank"`` (the
    max over every class but the CTC blank, class ``BLANK_ID`` of the scorer) or
    ``"speech"`` (``1 - p_t(blank)``, how sure the scorer is that a unit is spoken).

    Utterances are scored in length-sorted batches of at most ``max_frames``
    padded filterbank frames. The scorer's frame count may differ from the
    batch's longest encoder frame count by one (convolution padding rounds
    differently): an extra frame is dropped, a missing one repeats the last
    (``fit_scorer_frames``). A larger difference, or NaN at an utterance's
    frames, raises ``ValueError`` naming the utterance. ``progress(done, total)``
    is called after every batch.
    """
    if confidence not in CONFIDENCES:
        raise ValueError(f"confidence: expected one of {CONFIDENCES}, found {confidence!r}")
    scores: dict[str, Tensor] = {}
    for batch in inference_batches(utterances, max_frames):
        batch_scores = _batch_confidence(scorer, batch, confidence)  # (N, F, 80) -> (N, S)
        for row, (uid, frames) in enumerate(zip(batch.ids, batch.encoder_lens)):
            scores[uid] = batch_scores[row, :frames].clone()  # (S,) -> (S_i,), not a view of the batch
            _check_finite(scores[uid], uid)
        if progress is not None:
            progress(len(scores), len(utterances))
    return scores


def frame_scores(posteriors: Tensor, confidence: str) -> Tensor:
    """The frame confidence named ``confidence`` (one of ``CONFIDENCES``): ``(N, S, V)`` posteriors -> ``(N, S)``."""
    if confidence == "speech":
        return speech_probability(posteriors, BLANK_ID)
    return frame_confidence(posteriors, BLANK_ID if confidence == "nonblank" else None)


def _batch_confidence(scorer: FrameScorer, batch: SpeechBatch, confidence: str) -> Tensor:
    """Confidences of one batch fitted to its longest encoder frame count: ``(N, F, 80) -> (N, S)`` float32 CPU."""
    posteriors = scorer.posteriors(batch)  # (N, F, 80) -> (N, S', V)
    if posteriors.ndim != 3 or posteriors.size(0) != len(batch.ids):
        raise ValueError(
            f"scorer posteriors must have shape (N = {len(batch.ids)}, S, V), found {tuple(posteriors.shape)}"
        )
    frames = frame_scores(posteriors, confidence).float().cpu()  # (N, S', V) -> (N, S')
    lengths = batch.encoder_lens
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    try:
        return fit_scorer_frames(frames, lengths[longest])  # (N, S') -> (N, S)
    except ValueError as err:
        raise ValueError(f"scoring utterance {batch.ids[longest]!r}: {err}") from err


def _check_finite(confidence: Tensor, uid: str) -> None:
    """Raise ``ValueError`` if the ``(S_i,)`` confidences of utterance ``uid`` hold NaN."""
    num_nan = int(confidence.isnan().sum())
    if num_nan:
        raise ValueError(
            f"scorer gave NaN posteriors for utterance {uid!r} at {num_nan} of its {confidence.numel()} frames, "
            "expected probabilities"
        )
