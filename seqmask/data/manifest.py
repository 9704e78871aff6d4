"""Manifest records of the speech data and their JSON-lines files.

A corpus collector yields :class:`RawAudio` records (paths to undecoded audio);
preparing a shard turns each one into an :class:`AudioRecord` (one line of a
lhotse-style manifest, pointing into a safetensors shard) or a :class:`seqmask.data.rejects.Reject`
(the record and the reason it was dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

SPLITS = ("train", "valid", "test_matched", "test_mismatched", "unlabelled")
"""Split names used by every corpus and manifest."""


@dataclass(frozen=True, kw_only=True)
class RawAudio:
    """A record before decoding: what a corpus collector yields."""

    id: str
    audio: str
    """Absolute path of the source audio file."""
    text: str | None
    speaker: str
    language: str
    split: str
    source: str
    synthetic: bool = False
    noise_snr_db: float | None = None
    """Add white noise at this SNR when preparing (a mismatched test condition)."""


@dataclass(frozen=True, kw_only=True)
class AudioRecord:
    """One manifest line: a decoded, validated utterance stored in a shard."""

    id: str
    audio: str
    """The source audio file the waveform was decoded from."""
    sample_rate: int
    frames: int
    duration: float
    text: str | None
    speaker: str
    language: str
    split: str
    source: str
    synthetic: bool
    shard: str
    """Shard file relative to the manifest's artifact dir, e.g. ``shards/00003.safetensors``."""

    def __post_init__(self) -> None:
        path = PurePosixPath(self.shard)
        if not self.shard or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"field 'shard' must be a path inside the artifact, found {self.shard!r}")
