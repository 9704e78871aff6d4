"""Decoding target and thresholds every audio corpus is checked against (no torch imports)."""

from __future__ import annotations

from dataclasses import dataclass

from seqmask.schema import require


@dataclass(frozen=True, kw_only=True)
class AudioChecks:
    """Decoding target and the thresholds a waveform must pass."""

    sample_rate: int = 16000
    """Rate every waveform is resampled to (Hz)."""
    min_seconds: float = 0.1
    """Shorter audio is ``"too_short"``."""
    max_seconds: float = 30.0
    """Longer audio is ``"too_long"``."""
    silence_dbfs: float = -50.0
    """A peak below this level (dB relative to full scale) is ``"silence"``."""
    max_channels: int = 2
    """Multi-channel audio is averaged to mono; more channels than this is ``"channels"``."""

    def validate(self) -> None:
        require(self.sample_rate >= 1000, "sample_rate", ">= 1000 Hz", self.sample_rate)
        require(self.min_seconds >= 0, "min_seconds", ">= 0", self.min_seconds)
        require(
            self.max_seconds > self.min_seconds, "max_seconds", f"> min_seconds = {self.min_seconds}", self.max_seconds
        )
        require(self.silence_dbfs <= 0, "silence_dbfs", "<= 0 dBFS", self.silence_dbfs)
        require(self.max_channels >= 1, "max_channels", ">= 1", self.max_channels)
