"""LJSpeech clips (one reader): ``metadata.csv`` gives transcripts for some, the others are unlabelled audio."""

from __future__ import annotations

from pathlib import Path

from seqmask.data.files import audio_files, existing_dir
from seqmask.data.manifest import RawAudio


def collect_ljspeech(root: Path) -> list[RawAudio]:
    """LJSpeech clips in ``root`` (or ``root/wavs``) with ``root/metadata.csv``.

    ``metadata.csv`` lines are ``id|transcript|normalised transcript``; clips
    with a normalised transcript go to ``"test_mismatched"``, the others to
    ``"unlabelled"`` with no text.
    """
    root = existing_dir(root, "LJSpeech")
    audio_dir = root / "wavs" if (root / "wavs").is_dir() else root
    clips = {path.stem: path for path in audio_files(audio_dir, recursive=False)}
    if not clips:
        raise FileNotFoundError(f"{audio_dir}: expected LJSpeech .flac/.wav clips, found none")
    metadata = root / "metadata.csv"
    transcripts: dict[str, str] = {}
    for lineno, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 3:
            raise ValueError(
                f"{metadata}:{lineno}: expected 3 '|'-separated fields (id|text|normalised), found {len(fields)}"
            )
        if fields[0] not in clips:
            raise ValueError(f"{metadata}:{lineno}: no audio file for id {fields[0]!r} in {audio_dir}")
        if fields[2].strip():
            transcripts[fields[0]] = fields[2].strip()
    return [
        RawAudio(
            id=f"ljspeech-{stem}",
            audio=str(path.resolve()),
            text=transcripts.get(stem),
            speaker="LJ",
            language="en",
            split="test_mismatched" if stem in transcripts else "unlabelled",
            source="ljspeech",
        )
        for stem, path in sorted(clips.items())
    ]
