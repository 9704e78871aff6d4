"""Text and motion encoders for contrastive training: the conditioning text encoder trained in the flow (mean of word
embeddings, against a conv motion encoder) and the evaluator (Guo et al. 2022 style: a GRU over word embeddings and a
strided conv + GRU over frames). Every encoder returns L2-normalised ``(N, E)`` embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqmask.motion.captions import WordVocabulary


def padded_ids(texts: list[str], vocabulary: WordVocabulary) -> Tensor:
    """``(N, L)`` word ids of ``texts``, padded with 0."""
    encoded = [vocabulary.encode(text) for text in texts]
    ids = torch.zeros(len(encoded), max(map(len, encoded)), dtype=torch.long)
    for row, words in enumerate(encoded):
        ids[row, : len(words)] = torch.tensor(words)
    return ids


class WordBagEncoder(nn.Module):
    """Mean of word embeddings through an MLP: composes content and style words it has seen apart."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=WordVocabulary.PAD)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, ids: Tensor) -> Tensor:
        present = (ids != WordVocabulary.PAD).float()[..., None]  # (N, L, 1)
        mean = (self.embedding(ids) * present).sum(1) / present.sum(1).clamp(min=1)  # (N, E)
        return F.normalize(self.mlp(mean), dim=-1)


class GruTextEncoder(nn.Module):
    """A bidirectional GRU over word embeddings, its final states projected (the evaluator's text side)."""

    def __init__(self, vocab_size: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden, padding_idx=WordVocabulary.PAD)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, dim)

    def forward(self, ids: Tensor) -> Tensor:
        lengths = (ids != WordVocabulary.PAD).sum(1).clamp(min=1).cpu()  # (N,)
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, final = self.gru(packed)  # (2, N, H)
        return F.normalize(self.out(torch.cat([final[0], final[1]], dim=-1)), dim=-1)


def _downsampled(lengths: Tensor, convs: int) -> Tensor:
    for _ in range(convs):
        lengths = torch.div(lengths, 2, rounding_mode="floor")
    return lengths.clamp(min=1)


class ConvMotionEncoder(nn.Module):
    """Two strided 1D convolutions over frames, mean-pooled over the real frames."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(features, dim, 4, 2, 1), nn.GELU(), nn.Conv1d(dim, dim, 4, 2, 1), nn.GELU()
        )
        self.out = nn.Linear(dim, dim)

    def forward(self, motion: Tensor, lengths: Tensor) -> Tensor:
        hidden = self.convs(motion.transpose(1, 2)).transpose(1, 2)  # (N, T/4, E)
        real = (
            torch.arange(hidden.size(1), device=motion.device)[None]
            < _downsampled(lengths, 2)[:, None].to(motion.device)
        ).float()
        pooled = (hidden * real[..., None]).sum(1) / real.sum(1, keepdim=True)  # (N, E)
        return F.normalize(self.out(pooled), dim=-1)


class ConvGruMotionEncoder(nn.Module):
    """Guo et al.'s movement encoder (strided convolutions) and a bidirectional GRU over it (the evaluator's motion
    side)."""

    def __init__(self, features: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(features, hidden, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, dim)

    def forward(self, motion: Tensor, lengths: Tensor) -> Tensor:
        hidden = self.convs(motion.transpose(1, 2)).transpose(1, 2)  # (N, T/4, H)
        packed = pack_padded_sequence(hidden, _downsampled(lengths, 2).cpu(), batch_first=True, enforce_sorted=False)
        _, final = self.gru(packed)  # (2, N, H)
        return F.normalize(self.out(torch.cat([final[0], final[1]], dim=-1)), dim=-1)


class TextMotionModel(nn.Module):
    """A text encoder and a motion encoder trained into one embedding space."""

    def __init__(self, text: nn.Module, motion: nn.Module) -> None:
        super().__init__()
        self.text = text
        self.motion = motion
