"""Decode, validate and shard speech audio.

Everything here is a pure function of its arguments (and of the files they
name), so a pipeline stage can map :func:`prepare_shard` over shards in worker
processes. A corpus module (``fsdd``, ``ljspeech``, ``espeak``, ``user``) collects
:class:`RawAudio` records; then::

    split_duplicates  ->  shard_batches  ->  prepare_shard (per shard)

:func:`prepare_shard` decodes each record to mono float32 at one sample rate,
checks it, stores the good ones as int16 in one safetensors file and returns
:class:`AudioRecord` lines for them and :class:`Reject` lines (with a reason from
:data:`REJECT_REASONS`) for the rest. Text and ids holding U+FFFD (what
undecodable UTF-8 bytes become) are rejected as ``"bad_text"``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import unicodedata
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional
from safetensors import safe_open
from safetensors.numpy import save_file

from seqmask.data.config import AudioChecks
from seqmask.data.manifest import AudioRecord, RawAudio
from seqmask.data.rejects import Reject
from seqmask.files import partial_path

REJECT_REASONS = (
    "unreadable",
    "truncated",
    "empty",
    "silence",
    "channels",
    "too_short",
    "too_long",
    "no_text",
    "bad_text",
    "duplicate_id",
)
INT16_SCALE = 32768.0  # int16 <-> float in [-1, 1), the convention soundfile uses
MAX_RESAMPLE_TERM = 1000
"""Largest input term of a resampling ratio (its output term is at most ``new / orig`` times this): bounds the
resampler's kernel to a few MB whatever the input rate."""


class AudioError(Exception):
    """A record that cannot be used; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REJECT_REASONS:
            raise ValueError(f"reject reason {reason!r} is not one of {REJECT_REASONS}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def split_duplicates(records: list[RawAudio]) -> tuple[list[RawAudio], list[Reject]]:
    """Keep the first record of each id; reject later ones as ``"duplicate_id"``."""
    first: dict[str, RawAudio] = {}
    rejects = []
    for record in records:
        if record.id in first:
            rejects.append(_reject(record, AudioError("duplicate_id", f"id already used by {first[record.id].audio}")))
        else:
            first[record.id] = record
    return list(first.values()), rejects


# --- decoding and checks ----------------------------------------------------------


def decode(path: str | Path, checks: AudioChecks) -> np.ndarray:
    """Read ``path`` as mono float32 at ``checks.sample_rate``, shape ``(T,)``.

    Raises :class:`AudioError` when the file cannot be used. libsndfile does not
    report every truncation itself: for a WAV whose data chunk is cut short it
    silently returns the frames present (and ``sf.info`` reports that smaller
    count), so the header's data-chunk size is compared with the file size; for
    a cut FLAC ``sf.info`` still reports the full length but reading fails, and
    that failure is reported as ``"truncated"``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError("unreadable", f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as err:
        raise AudioError("unreadable", f"{path}: {err}") from None
    if info.channels > checks.max_channels:
        raise AudioError("channels", f"{path}: {info.channels} channels, expected at most {checks.max_channels}")
    if info.format in ("WAV", "WAVEX"):
        shortfall = _wav_data_shortfall(path)
        if shortfall is not None:
            declared, present = shortfall
            raise AudioError("truncated", f"{path}: WAV header announces {declared} data bytes, file holds {present}")
    if info.frames > checks.max_seconds * info.samplerate:
        raise AudioError(
            "too_long", f"{path}: {info.frames / info.samplerate:.2f} s, expected at most {checks.max_seconds} s"
        )
    try:
        with sf.SoundFile(str(path)) as audio:
            samples = audio.read(dtype="float32", always_2d=True)  # (T, C)
    except (RuntimeError, OSError) as err:
        raise AudioError(
            "truncated", f"{path}: header announces {info.frames} frames, decoding failed ({err})"
        ) from None
    if samples.shape[0] < info.frames:
        raise AudioError("truncated", f"{path}: header announces {info.frames} frames, decoded {samples.shape[0]}")
    if samples.shape[0] == 0:
        raise AudioError("empty", f"{path}: 0 frames")
    seconds = samples.shape[0] / info.samplerate
    if seconds < checks.min_seconds:
        raise AudioError("too_short", f"{path}: {seconds:.3f} s, expected at least {checks.min_seconds} s")
    mono = samples.mean(axis=1)  # (T,)
    peak = float(np.abs(mono).max())
    peak_dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_dbfs < checks.silence_dbfs:
        raise AudioError("silence", f"{path}: peak {peak_dbfs:.1f} dBFS, expected at least {checks.silence_dbfs} dBFS")
    if info.samplerate != checks.sample_rate:
        with torch.no_grad():
            mono = _resampler(info.samplerate, checks.sample_rate)(
                torch.from_numpy(mono)
            ).numpy()  # (T,) -> (T * new / orig,)
    return np.ascontiguousarray(mono, dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _resampler(orig_freq: int, new_freq: int) -> torchaudio.transforms.Resample:
    """torchaudio's sinc resampler for one rate pair, its kernel built once per process.

    The kernel has ``new / g`` rows of about ``orig / g`` taps (``g`` = their gcd),
    so an unusual rate (16001 Hz: a 1 GB kernel) is resampled at the nearest ratio
    whose terms are at most :data:`MAX_RESAMPLE_TERM` (within 0.1% of the rate, far
    below what ASR hears); common rates (8, 11.025, 22.05, 44.1, 48 kHz) stay exact.
    """
    ratio = Fraction(new_freq, orig_freq).limit_denominator(MAX_RESAMPLE_TERM)
    return torchaudio.transforms.Resample(orig_freq=ratio.denominator, new_freq=ratio.numerator)


def _wav_data_shortfall(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` byte counts when a RIFF/RIFX WAV's data chunk is cut short, else ``None``.

    A declared size of 0 or 0xFFFFFFFF (written by streaming encoders that do
    not know the length) is not a truncation.
    """
    size = path.stat().st_size
    with open(path, "rb") as wav:
        head = wav.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        chunk_header = struct.Struct("<4sI" if head[:4] == b"RIFF" else ">4sI")
        offset = 12
        while offset + chunk_header.size <= size:
            wav.seek(offset)
            chunk_id, chunk_size = chunk_header.unpack(wav.read(chunk_header.size))
            if chunk_id == b"data":
                present = size - offset - chunk_header.size
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > present:
                    return chunk_size, present
                return None
            offset += chunk_header.size + chunk_size + (chunk_size & 1)  # chunks are word-aligned
    return None


def check_text(text: str | None, *, require_text: bool) -> str | None:
    """The stripped text (``None`` when empty), or :class:`AudioError` ``"no_text"``/``"bad_text"``.

    Bad text holds U+FFFD (what undecodable UTF-8 bytes become), a lone
    surrogate or a control character (tabs and newlines included).
    """
    stripped = text.strip() if text is not None else ""
    if not stripped:
        if require_text:
            raise AudioError("no_text", f"text is {text!r}, expected a transcript")
        return None
    check_chars(stripped, "text")
    return stripped


def check_chars(value: str, what: str) -> None:
    """:class:`AudioError` ``"bad_text"`` when ``value`` holds U+FFFD (what undecodable UTF-8 bytes become), a lone
    surrogate or a control character; ``what`` names the field in the message."""
    for char in value:
        if char == "\ufffd":
            raise AudioError("bad_text", f"{what} {value[:60]!r} holds U+FFFD: the source was not valid UTF-8")
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise AudioError("bad_text", f"{what} {value[:60]!r} holds control/surrogate character U+{ord(char):04X}")


def add_white_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``wave`` (T,) plus white Gaussian noise scaled to exactly ``snr_db`` below its mean power."""
    signal_power = float(np.mean(np.square(wave, dtype=np.float64)))
    noise = rng.standard_normal(wave.shape[0])  # (T,)
    noise *= np.sqrt(signal_power / 10 ** (snr_db / 10) / np.mean(np.square(noise)))
    return (wave + noise).astype(np.float32)


def record_rng(seed: int, record_id: str) -> np.random.Generator:
    """A generator determined by ``seed`` and ``record_id`` only (not by Python's salted ``hash``)."""
    id_hash = int.from_bytes(hashlib.sha1(record_id.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    return np.random.default_rng([seed, id_hash])


# --- shards -----------------------------------------------------------------------


def prepare_shard(
    records: Sequence[RawAudio], shard_path: Path, *, shard_rel: str, checks: AudioChecks, require_text: bool, seed: int
) -> tuple[list[AudioRecord], list[Reject]]:
    """Decode and validate ``records`` into one safetensors shard at ``shard_path``.

    ``require_text``: a labelled corpus rejects records without a transcript as ``"no_text"``.

    Good waveforms (with white noise added where ``noise_snr_db`` is set) are
    stored as int16 arrays keyed by record id; the file is written under a
    temporary name and renamed into place, and holds the sample rate in its
    metadata. Returns the manifest lines of the stored records (``shard`` =
    ``shard_rel``) and the rejects; one bad record never raises.
    """
    torch.set_num_threads(1)  # runs in worker processes next to others
    shard_path = Path(shard_path)
    stored: dict[str, np.ndarray] = {}
    kept: list[AudioRecord] = []
    rejects: list[Reject] = []
    for raw in records:
        try:
            if raw.id in stored:
                raise AudioError("duplicate_id", "id already used in this shard")
            check_chars(raw.id, "id")
            text = check_text(raw.text, require_text=require_text)
            wave = decode(raw.audio, checks)  # (T,)
        except AudioError as err:
            rejects.append(_reject(raw, err))
            continue
        if raw.noise_snr_db is not None:
            wave = add_white_noise(wave, raw.noise_snr_db, record_rng(seed, raw.id))
        stored[raw.id] = np.clip(np.round(wave * INT16_SCALE), -32768, 32767).astype(np.int16)  # (T,)
        kept.append(
            AudioRecord(
                id=raw.id,
                audio=raw.audio,
                sample_rate=checks.sample_rate,
                frames=wave.shape[0],
                duration=wave.shape[0] / checks.sample_rate,
                text=text,
                speaker=raw.speaker,
                language=raw.language,
                split=raw.split,
                source=raw.source,
                synthetic=raw.synthetic,
                shard=shard_rel,
            )
        )
    shard_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(shard_path)
    save_file(stored, str(tmp), metadata={"sample_rate": str(checks.sample_rate)})
    os.replace(tmp, shard_path)
    return kept, rejects


def load_shard(path: Path) -> dict[str, np.ndarray]:
    """A shard's waveforms: id -> float32 ``(T,)`` in [-1, 1)."""
    waves = {}
    with safe_open(str(path), framework="np") as shard:
        for key in shard.keys():
            pcm = shard.get_tensor(key)  # (T,) int16
            if pcm.dtype != np.int16 or pcm.ndim != 1:
                raise ValueError(f"{path}: tensor {key!r} expected 1-D int16, found {pcm.ndim}-D {pcm.dtype}")
            waves[key] = pcm.astype(np.float32) / INT16_SCALE
    return waves


def shard_batches(records: Sequence[RawAudio], max_seconds_per_shard: float) -> list[list[RawAudio]]:
    """Group ``records``, in order, into shards of at most ``max_seconds_per_shard`` of audio.

    Durations are estimated from the file header (1 s when it cannot be read);
    a record longer than the limit gets a shard of its own.
    """
    if max_seconds_per_shard <= 0:
        raise ValueError(f"max_seconds_per_shard must be > 0, found {max_seconds_per_shard}")
    batches: list[list[RawAudio]] = []
    current: list[RawAudio] = []
    total = 0.0
    for record in records:
        seconds = _estimated_seconds(record.audio)
        if current and total + seconds > max_seconds_per_shard:
            batches.append(current)
            current, total = [], 0.0
        current.append(record)
        total += seconds
    if current:
        batches.append(current)
    return batches


def _estimated_seconds(path: str) -> float:
    try:
        return sf.info(path).duration
    except (RuntimeError, OSError):
        return 1.0


def _reject(record: RawAudio, err: AudioError) -> Reject:
    return Reject(origin=record.audio, id=record.id, reason=err.reason, detail=err.detail, source=record.source)
