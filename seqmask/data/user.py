"""A user's own speech corpus: a JSON-lines manifest, or a folder of audio files with a transcript TSV.

Text and ids are decoded as UTF-8 with undecodable bytes replaced by U+FFFD:
:func:`~seqmask.data.audio.prepare_shard` then rejects that record as
``"bad_text"`` and keeps the other records of the file.
"""

from __future__ import annotations

from pathlib import Path

from seqmask.data.files import audio_files, existing_dir
from seqmask.data.manifest import SPLITS, RawAudio
from seqmask.files import json_objects


def collect_user_manifest(path: Path) -> list[RawAudio]:
    """A user's JSON-lines manifest: ``{"id", "audio"[, "text", "speaker", "language", "split"]}`` a line.

    Relative ``audio`` paths resolve against the manifest's folder. Defaults:
    no text, speaker ``"unknown"``, language ``"und"``, split ``"train"``.
    Undecodable bytes become U+FFFD (rejected later as ``"bad_text"``). A line
    that is not a JSON object, or a missing, unknown or mistyped field, raises
    ``ValueError`` naming the file and line.
    """
    path = Path(path)
    base = path.resolve().parent
    allowed = ("id", "audio", "text", "speaker", "language", "split")
    records = []
    for where, obj in json_objects(path, errors="replace"):
        for key in obj:
            if key not in allowed:
                raise ValueError(f"{where}: unknown field {key!r}, expected some of {allowed}")
        for key in ("id", "audio"):
            if not isinstance(obj.get(key), str) or not obj[key]:
                raise ValueError(f"{where}: field {key!r} must be a non-empty string, found {obj.get(key)!r}")
        for key in ("text", "speaker", "language", "split"):
            if not isinstance(obj.get(key, ""), (str, type(None))):
                raise ValueError(f"{where}: field {key!r} must be a string, found {obj[key]!r}")
        split = obj.get("split") or "train"
        if split not in SPLITS:
            raise ValueError(f"{where}: field 'split' must be one of {SPLITS}, found {split!r}")
        records.append(
            RawAudio(
                id=obj["id"],
                audio=str((base / obj["audio"]).resolve()),
                text=obj.get("text"),
                speaker=obj.get("speaker") or "unknown",
                language=obj.get("language") or "und",
                split=split,
                source="user",
            )
        )
    return records


def collect_user_dir(audio_dir: Path, transcripts: Path | None) -> list[RawAudio]:
    """Every .wav/.flac/.ogg/.mp3 file under ``audio_dir`` (recursively), id = file stem.

    ``transcripts`` is an optional TSV of ``id<TAB>text`` lines. Files with a
    transcript go to ``"train"``, the others to ``"unlabelled"``; transcript
    ids without a file are ignored. Speaker ``"unknown"``, language ``"und"``.
    Two files with the same stem share an id: :func:`split_duplicates` rejects
    the later one.
    """
    audio_dir = existing_dir(audio_dir, "user audio")
    texts = read_transcripts(Path(transcripts)) if transcripts is not None else {}
    records = []
    for path in audio_files(audio_dir, recursive=True):
        text = texts.get(path.stem)
        records.append(
            RawAudio(
                id=path.stem,
                audio=str(path.resolve()),
                text=text,
                speaker="unknown",
                language="und",
                split="unlabelled" if text is None else "train",
                source="user",
            )
        )
    return records


def read_transcripts(path: Path) -> dict[str, str]:
    """``id<TAB>text`` lines; undecodable bytes become U+FFFD (rejected later as ``"bad_text"``)."""
    texts: dict[str, str] = {}
    for lineno, raw_line in enumerate(path.read_bytes().splitlines(), start=1):
        line = raw_line.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        utt_id, tab, text = line.partition("\t")
        if not tab:
            raise ValueError(f"{path}:{lineno}: expected 'id<TAB>text', found no tab in {line[:60]!r}")
        if utt_id in texts:
            raise ValueError(f"{path}:{lineno}: id {utt_id!r} has a transcript already")
        texts[utt_id] = text
    return texts
