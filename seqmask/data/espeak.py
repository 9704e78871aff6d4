"""Synthetic read speech: real sentences spoken by espeak-ng voices.

Planning is separate from synthesis: :func:`plan_synthesis` turns sentences
into a deterministic list of :class:`SynthJob` (sentence, voice, split), and
:func:`synthesize` runs espeak-ng for one job. Sentences are assigned to
train/valid/test by a hash of their :func:`~seqmask.data.text.sentence_key`, so a
sentence never appears in both training and test data; held-out voices speak only
test sentences (the mismatched test, with added noise).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from seqmask.data.manifest import RawAudio
from seqmask.data.text import sentence_key
from seqmask.files import partial_path


@dataclass(frozen=True, kw_only=True)
class Voice:
    """An espeak-ng voice with its speaking rate and pitch."""

    name: str
    """espeak-ng voice spec, e.g. ``"en-us+f3"``."""
    speed: int
    """Words per minute (espeak-ng ``-s``)."""
    pitch: int
    """0-99 (espeak-ng ``-p``)."""


@dataclass(frozen=True, kw_only=True)
class SynthJob:
    """One utterance to synthesize."""

    id: str
    text: str
    voice: Voice
    split: str
    speaker: str
    language: str
    noise_snr_db: float | None


def sentence_split(sentence: str, *, test_share: float, valid_share: float) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` from a stable hash of the normalised sentence.

    Sentences that differ only in case, punctuation or spacing get the same split.
    """
    if not (0 <= test_share and 0 <= valid_share and test_share + valid_share <= 1):
        raise ValueError(f"expected shares >= 0 summing to at most 1, found test {test_share}, valid {valid_share}")
    digest = hashlib.sha1(sentence_key(sentence).encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if position < test_share:
        return "test"
    if position < test_share + valid_share:
        return "valid"
    return "train"


def plan_synthesis(
    sentences: Sequence[str],
    *,
    voices: Sequence[str],
    heldout_voices: Sequence[str],
    speeds: Sequence[int],
    pitches: Sequence[int],
    target_seconds: float,
    seconds_per_char: float,
    test_share: float,
    valid_share: float,
    mismatched_snr_db: float,
    language: str,
    seed: int,
) -> list[SynthJob]:
    """Jobs for about ``target_seconds`` of speech, deterministic given ``seed``.

    Sentences are taken in a seeded random order until the estimated duration
    (``len(text) * seconds_per_char`` per job) reaches ``target_seconds``. A
    train/valid sentence gets one job with a seen voice; a test sentence gets a
    ``"test_matched"`` job with a seen voice and, when there are held-out
    voices, a ``"test_mismatched"`` job with a held-out voice and
    ``noise_snr_db = mismatched_snr_db``. Speed and pitch are drawn per job. Sentences holding
    digits are left out: espeak-ng speaks them as words, the transcript would keep the digits.
    Raises ``ValueError`` when the sentences cannot reach the target.
    """
    overlap = set(voices) & set(heldout_voices)
    if not voices or not speeds or not pitches:
        raise ValueError(
            f"expected at least one voice, speed and pitch, found {len(voices)}, {len(speeds)}, {len(pitches)}"
        )
    if overlap:
        raise ValueError(f"heldout_voices must not be in voices, both hold {sorted(overlap)}")
    if target_seconds <= 0 or seconds_per_char <= 0:
        raise ValueError(
            f"expected target_seconds and seconds_per_char > 0, found {target_seconds}, {seconds_per_char}"
        )
    # espeak-ng reads "42" as "forty-two" while the label keeps "42": such sentences would teach wrong targets
    unique = sorted({s.strip() for s in sentences if not any(ch.isdigit() for ch in s)} - {""})
    rng = np.random.default_rng(seed)

    def job(text: str, voice_names: Sequence[str], split: str, snr_db: float | None) -> SynthJob:
        voice = Voice(name=str(rng.choice(voice_names)), speed=int(rng.choice(speeds)), pitch=int(rng.choice(pitches)))
        key = f"{text}\n{voice.name}\n{voice.speed}\n{voice.pitch}"
        return SynthJob(
            id=f"espeak-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}",
            text=text,
            voice=voice,
            split=split,
            speaker=voice.name,
            language=language,
            noise_snr_db=snr_db,
        )

    jobs: list[SynthJob] = []
    total = 0.0
    for index in rng.permutation(len(unique)):
        if total >= target_seconds:
            break
        text = unique[index]
        split = sentence_split(text, test_share=test_share, valid_share=valid_share)
        if split != "test":
            new = [job(text, voices, split, None)]
        else:
            new = [job(text, voices, "test_matched", None)]
            if heldout_voices:
                new.append(job(text, heldout_voices, "test_mismatched", mismatched_snr_db))
        jobs.extend(new)
        total += len(new) * len(text) * seconds_per_char
    if total < target_seconds:
        raise ValueError(
            f"{len(unique)} sentences without digits give an estimated {total:.0f} s of speech, "
            f"fewer than target_seconds={target_seconds:.0f}"
        )
    return jobs


def installed_voices() -> tuple[set[str], set[str]]:
    """Voice names and variant names the installed espeak-ng knows (``espeak-ng --voices``)."""

    def table(option: str) -> list[list[str]]:
        out = subprocess.run(["espeak-ng", option], check=True, capture_output=True, text=True).stdout
        return [line.split() for line in out.splitlines()[1:] if line.split()]

    voices = {name for row in table("--voices") for name in (row[1], row[3], Path(row[4]).name)}
    variants = {name for row in table("--voices=variant") for name in (row[3], Path(row[4]).name)}
    return voices, variants


def check_voices(specs: Sequence[str]) -> None:
    """Raise ``ValueError`` naming every voice spec (``voice[+variant]``) espeak-ng does not have.

    espeak-ng itself falls back silently for many unknown names, so this is checked up front.
    """
    voices, variants = installed_voices()
    unknown = []
    for spec in specs:
        voice, _, variant = spec.partition("+")
        if voice not in voices or (variant and variant not in variants):
            unknown.append(spec)
    if unknown:
        raise ValueError(
            f"espeak-ng has no voice {unknown} (see `espeak-ng --voices` and `espeak-ng --voices=variant`)"
        )


def espeak_version() -> str:
    """The installed espeak-ng's version line; synthesized audio depends on it."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError(
            "espeak-ng is not installed: run `make setup` (apt-get install espeak-ng) or disable speech_prep.synth"
        )
    return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def synthesize(job: SynthJob, out_dir: Path, *, timeout_s: float = 120.0) -> RawAudio:
    """Speak ``job`` with espeak-ng into ``out_dir/<id>.flac`` (lossless, a third of the WAV) and return its record.

    espeak-ng writes to stdout (its ``-w`` silently truncates long paths), and the
    samples are written here as FLAC (the WAV stream's header has no sizes),
    under a temporary name and renamed, so an interrupted run leaves no partial
    file under the final name.  A failed or timed-out espeak-ng call raises
    ``RuntimeError`` with the command and its stderr.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / f"{job.id}.flac"
    tmp = partial_path(wav, ".flac")
    voice = job.voice
    command = [
        "espeak-ng",
        "-v",
        voice.name,
        "-s",
        str(voice.speed),
        "-p",
        str(voice.pitch),
        "--stdout",
        "--",
        job.text,
    ]
    try:
        spoken = subprocess.run(command, check=True, capture_output=True, timeout=timeout_s).stdout
    except subprocess.CalledProcessError as err:
        raise RuntimeError(
            f"{command} failed with exit status {err.returncode}: {err.stderr.decode(errors='replace').strip()}"
        ) from None
    except subprocess.TimeoutExpired as err:
        stderr = (err.stderr or b"").decode(errors="replace")
        raise RuntimeError(f"{command} timed out after {timeout_s} s: {stderr.strip()}") from None
    try:
        samples, sample_rate = sf.read(io.BytesIO(spoken), dtype="int16")  # (T,) mono
    except sf.LibsndfileError as err:
        raise RuntimeError(f"{command} wrote no readable WAV ({len(spoken)} bytes): {err}") from None
    sf.write(tmp, samples, sample_rate, subtype="PCM_16", format="FLAC")
    os.replace(tmp, wav)
    return RawAudio(
        id=job.id,
        audio=str(wav.resolve()),
        text=job.text,
        speaker=job.speaker,
        language=job.language,
        split=job.split,
        source="espeak",
        synthetic=True,
        noise_snr_db=job.noise_snr_db,
    )
