"""Acoustic features and batches for the speech models.

Log-mel filterbanks (80 channels, 25 ms window, 10 ms shift, torchaudio's Kaldi
implementation) are computed once per utterance by the ``features`` stage and stored
as float16 safetensors.  fairseq2's fbank front end stacks 2 frames, so the encoder
runs at 20 ms per frame, the rate of the scorer's confidences.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from safetensors.torch import load_file, save_file
from torch import Tensor

from seqmask.data.audio import load_shard
from seqmask.data.manifest import AudioRecord

NUM_MEL_BINS = 80
FRAME_SHIFT_MS = 10.0
FRAME_LENGTH_MS = 25.0
FBANK_STRIDE = 2
"""Filterbank frames stacked per encoder frame (10 ms -> 20 ms)."""
ENCODER_FRAMES_PER_SECOND = 1000 / (FRAME_SHIFT_MS * FBANK_STRIDE)
"""50: the rate of the encoder and of the scorer's frame confidences."""


def fbank(waveform: np.ndarray, sample_rate: int = 16000) -> Tensor:
    """Per-utterance mean/variance normalised log-mel filterbanks: (T,) float in [-1, 1] -> (F, 80) float32."""
    with torch.no_grad():
        # (T,) -> (1, T), Kaldi expects 16-bit scale
        samples = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)).unsqueeze(0) * 32768.0
        feats = torchaudio.compliance.kaldi.fbank(
            samples,
            num_mel_bins=NUM_MEL_BINS,
            frame_length=FRAME_LENGTH_MS,
            frame_shift=FRAME_SHIFT_MS,
            dither=0.0,
            sample_frequency=sample_rate,
        )  # (F, 80)
        return (feats - feats.mean(0)) / (feats.std(0, unbiased=False) + 1e-5)  # one-frame safe


def num_fbank_frames(num_samples: int, sample_rate: int = 16000) -> int:
    """Frames Kaldi fbank gives for ``num_samples`` (snip_edges: only whole windows)."""
    window = int(sample_rate * FRAME_LENGTH_MS / 1000)
    shift = int(sample_rate * FRAME_SHIFT_MS / 1000)
    return 0 if num_samples < window else 1 + (num_samples - window) // shift


def num_encoder_frames(num_fbank: int) -> int:
    """Encoder frames (20 ms) for ``num_fbank`` filterbank frames."""
    return num_fbank // FBANK_STRIDE


def encoder_frames_in(seconds: float) -> int:
    """Encoder frames in ``seconds`` of audio (rounded)."""
    return round(seconds * ENCODER_FRAMES_PER_SECOND)


def featurize_shard(records: Sequence[AudioRecord], shard_path: Path, out_path: Path) -> dict[str, int]:
    """Filterbanks of every record of one audio shard into one float16 safetensors file; returns id -> frames."""
    torch.set_num_threads(1)
    waveforms = load_shard(shard_path)
    feats = {record.id: fbank(waveforms[record.id], record.sample_rate).to(torch.float16) for record in records}
    tmp = out_path.with_suffix(".tmp")
    save_file(feats, str(tmp))
    tmp.replace(out_path)
    return {key: int(value.shape[0]) for key, value in feats.items()}


@dataclass(frozen=True)
class Utterance:
    """One utterance ready for a model: its filterbanks and labels."""

    id: str
    feats: Tensor
    """(F, 80) float16 filterbanks."""
    text: str | None
    split: str
    source: str
    speaker: str

    @property
    def encoder_frames(self) -> int:
        return num_encoder_frames(self.feats.shape[0])


def load_utterances(
    features_dir: Path, records: Sequence[AudioRecord], feature_shards: dict[str, str]
) -> list[Utterance]:
    """Utterances for ``records``; ``feature_shards`` maps record id -> feature shard path relative to
    ``features_dir``."""
    by_shard: dict[str, list[AudioRecord]] = {}
    for record in records:
        if record.id not in feature_shards:
            raise KeyError(f"{features_dir}: no features for utterance {record.id!r}")
        by_shard.setdefault(feature_shards[record.id], []).append(record)
    utterances = []
    for shard, shard_records in sorted(by_shard.items()):
        tensors = load_file(str(features_dir / shard))
        for record in shard_records:
            utterances.append(
                Utterance(record.id, tensors[record.id], record.text, record.split, record.source, record.speaker)
            )
    return utterances


@dataclass(frozen=True)
class SpeechBatch:
    """Padded filterbanks of several utterances, and their frame confidences when a masker needs them."""

    ids: list[str]
    feats: Tensor
    """(N, F, 80) float32, zero padded."""
    feat_lens: list[int]
    """Filterbank frames per utterance."""
    scores: Tensor | None = None
    """(N, S) float32 frame confidences at the encoder rate, zero padded; S = the longest row's."""

    @property
    def encoder_lens(self) -> list[int]:
        return [num_encoder_frames(n) for n in self.feat_lens]

    def to(self, device: torch.device) -> SpeechBatch:
        scores = None if self.scores is None else self.scores.to(device)
        return dataclasses.replace(self, feats=self.feats.to(device), scores=scores)


def collate(utterances: Sequence[Utterance], scores: Mapping[str, Tensor] | None = None) -> SpeechBatch:
    """Pad filterbanks to the longest utterance: N x (F_i, 80) -> (N, F, 80); with ``scores`` (id -> ``(S_i,)``)
    the batch also carries them, padded: N x (S_i,) -> (N, S)."""
    lens = [u.feats.shape[0] for u in utterances]
    feats = torch.zeros(len(utterances), max(lens), NUM_MEL_BINS)
    for i, utterance in enumerate(utterances):
        feats[i, : lens[i]] = utterance.feats.float()
    batch_scores = None
    if scores is not None:
        rows = [scores[u.id] for u in utterances]
        batch_scores = torch.zeros(len(rows), max(row.numel() for row in rows))  # (N, S)
        for i, row in enumerate(rows):
            batch_scores[i, : row.numel()] = row  # (S_i,) -> (N, S)
    return SpeechBatch([u.id for u in utterances], feats, lens, batch_scores)


def length_batches(
    lengths: Sequence[int], *, max_frames: int, max_size: int, generator: torch.Generator | None, shuffle: bool
) -> list[list[int]]:
    """Indices grouped into batches of similar length whose padded size stays under ``max_frames``.

    Sorted by length so padding is small; batch order shuffled with ``generator`` when ``shuffle``.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max(lengths[index], max((lengths[i] for i in current), default=0))
        if current and (longest * (len(current) + 1) > max_frames or len(current) >= max_size):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    if shuffle:
        permutation = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[i] for i in permutation]
    return batches
