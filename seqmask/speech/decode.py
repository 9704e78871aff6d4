"""Greedy CTC decoding of a fine-tuned model: batches in length order, logits, best paths, transcripts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrModel
from fairseq2.nn import BatchLayout
from torch import Tensor

from seqmask.speech.features import SpeechBatch, Utterance, collate, length_batches
from seqmask.speech.vocab import BLANK_ID, Vocabulary
from seqmask.training.device import autocast, default_device


def inference_batches(utterances: Sequence[Utterance], max_frames: int) -> Iterator[SpeechBatch]:
    """Batches of similar length, in length order, of at most ``max_frames`` padded filterbank frames."""
    lengths = [u.feats.shape[0] for u in utterances]
    for indices in length_batches(
        lengths, max_frames=max_frames, max_size=len(utterances), generator=None, shuffle=False
    ):
        yield collate([utterances[i] for i in indices])


def ctc_logits(model: Wav2Vec2AsrModel, batch: SpeechBatch) -> Tensor:
    """float32 logits of an eval-mode CTC model, without gradients: ``(N, F, 80) -> (N, S, V)``, S = max encoder
    frames."""
    with torch.no_grad(), autocast(batch.feats.device):
        logits, _ = model(batch.feats, BatchLayout.of(batch.feats, batch.feat_lens))  # (N, F, 80) -> (N, S, V)
    return logits.float()  # (N, S, V)


def greedy_decode(logits: Tensor, lengths: Sequence[int], vocab: Vocabulary) -> list[str]:
    """Best path: per utterance, argmax over units, collapse repeats, drop blanks, decode.

    ``logits (N, S, V)``; ``lengths[i]`` valid frames of utterance ``i``.
    """
    if logits.ndim != 3 or logits.size(0) != len(lengths) or logits.size(2) != len(vocab.tokens):
        raise ValueError(
            f"logits must have shape (N = {len(lengths)}, S, V = {len(vocab.tokens)}), found {tuple(logits.shape)}"
        )
    if any(not 0 <= n <= logits.size(1) for n in lengths):
        raise ValueError(f"lengths must lie in [0, {logits.size(1)}], found {list(lengths)}")
    best = logits.argmax(dim=-1).cpu()  # (N, S, V) -> (N, S)
    texts = []
    for row, length in enumerate(lengths):
        path = torch.unique_consecutive(best[row, :length])  # (S_i,) -> (U_i,)
        texts.append(vocab.decode(path[path != BLANK_ID].tolist()))  # (U_i,) -> (U'_i,)
    return texts


def transcribe(
    model: Wav2Vec2AsrModel,
    vocab: Vocabulary,
    utterances: Sequence[Utterance],
    *,
    max_frames: int = 20000,
    device: torch.device | None = None,
) -> dict[str, str]:
    """Greedy CTC transcripts by utterance id; moves ``model`` to ``device`` and puts it in eval mode."""
    device = device or default_device()
    model.to(device).eval()
    hypotheses: dict[str, str] = {}
    for batch in inference_batches(utterances, max_frames):
        logits = ctc_logits(model, batch.to(device))  # (N, F, 80) -> (N, S, V)
        hypotheses.update(zip(batch.ids, greedy_decode(logits, batch.encoder_lens, vocab)))
    return hypotheses
