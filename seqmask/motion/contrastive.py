"""Contrastive text-motion training (a unit of :mod:`seqmask.training.loop`) and embedding with the trained encoders.

Windows of the same (content, style) pair are all positives of each other's captions
(multi-positive InfoNCE, both directions), so two windows of one clip in a batch are
never pushed apart. Each step draws one caption template per window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from seqmask.motion.captions import WordVocabulary
from seqmask.motion.encoders import TextMotionModel, padded_ids
from seqmask.motion.windows import TEMPLATE_COUNT, Windows
from seqmask.training.loop import shuffled_batches


def info_nce(text: Tensor, motion: Tensor, positives: Tensor, temperature: float) -> Tensor:
    """Mean multi-positive InfoNCE over text->motion and motion->text: ``(N, E)``, ``(N, E)``, ``(N, N)`` bool ->
    ``()``."""
    logits = text @ motion.T / temperature  # (N, N)
    loss = 0.0
    for scores in (logits, logits.T):
        log_probs = scores.log_softmax(dim=1)  # (N, N)
        loss = loss - torch.logsumexp(log_probs.masked_fill(~positives, float("-inf")), dim=1).mean()
    return loss / 2


class ContrastiveUnit:
    """Train ``model`` so a window's captions sit nearest its motion."""

    def __init__(
        self,
        model: TextMotionModel,
        windows: Windows,
        vocabulary: WordVocabulary,
        *,
        batch_size: int,
        temperature: float,
        seed: int,
        device: torch.device,
    ) -> None:
        self.model = model
        self.windows = windows
        self.vocabulary = vocabulary
        self.batch_size = min(batch_size, len(windows.records))
        self.temperature = temperature
        self.device = device
        pair_ids = {pair: i for i, pair in enumerate(dict.fromkeys(windows.pairs))}
        self.pair_of = torch.tensor([pair_ids[pair] for pair in windows.pairs])  # (N,)
        self.templates = torch.Generator().manual_seed(seed)

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        return shuffled_batches(len(self.windows.records), self.batch_size, generator)

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        index = torch.tensor(batch)
        choice = torch.randint(0, TEMPLATE_COUNT, (len(batch),), generator=self.templates).tolist()
        texts = [self.windows.captions(i)[c] for i, c in zip(batch, choice)]
        text = self.model.text(padded_ids(texts, self.vocabulary).to(self.device))  # (B, E)
        motion = self.model.motion(self.windows.features[index].to(self.device), self.windows.lengths[index])  # (B, E)
        positives = (self.pair_of[index][:, None] == self.pair_of[index][None, :]).to(self.device)  # (B, B)
        loss = info_nce(text, motion, positives, self.temperature)
        top1 = (text @ motion.T).argmax(dim=1)  # (B,)
        return loss, {"top1": float(positives[torch.arange(len(batch)), top1].float().mean())}

    def identity(self) -> dict[str, Any]:
        return {
            "windows": len(self.windows.records),
            "batch_size": self.batch_size,
            "vocabulary": len(self.vocabulary.words),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"templates": self.templates.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.templates.set_state(state["templates"])


@torch.no_grad()
def embed_texts(
    model: TextMotionModel, texts: Sequence[str], vocabulary: WordVocabulary, device: torch.device, batch: int = 256
) -> Tensor:
    """``(N, E)`` text embeddings."""
    model.eval()
    return torch.cat(
        [
            model.text(padded_ids(list(texts[i : i + batch]), vocabulary).to(device)).cpu()
            for i in range(0, len(texts), batch)
        ]
    )


@torch.no_grad()
def embed_motions(
    model: TextMotionModel, features: Tensor, lengths: Tensor, device: torch.device, batch: int = 256
) -> Tensor:
    """``(N, E)`` motion embeddings of normalised ``features`` ``(N, T, D)``."""
    model.eval()
    return torch.cat(
        [
            model.motion(features[i : i + batch].to(device), lengths[i : i + batch]).cpu()
            for i in range(0, len(features), batch)
        ]
    )
