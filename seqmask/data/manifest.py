"""Manifest records of the speech data and their JSON-lines files.

A corpus collector yields :class:`RawAudio` records (paths to undecoded audio);
preparing a shard turns each one into an :class:`AudioRecord` (one line of a
lhotse-style manifest, pointing into a safetensors shard) or a :class:`Reject`
(the record and the reason it was dropped).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, TypeVar

from seqmask.store import partial_path

SPLITS = ("train", "valid", "test_matched", "test_mismatched", "unlabelled")
"""Split names used by every corpus and manifest."""

T = TypeVar("T")


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


@dataclass(frozen=True, kw_only=True)
class Reject:
    """A record that failed decoding or validation, kept with its reason."""

    id: str
    audio: str
    reason: str
    detail: str
    source: str


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Write dataclass ``records`` to ``path``, one JSON object a line; returns how many.

    The file is written under a temporary name and renamed, so a reader never
    sees half a manifest.
    """
    path = Path(path)
    tmp = partial_path(path)
    count = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for record in records:
            if not dataclasses.is_dataclass(record) or isinstance(record, type):
                raise TypeError(f"{path}: expected dataclass instances, found {type(record).__name__}")
            out.write(json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def json_objects(path: Path, *, errors: str = "strict") -> Iterator[tuple[str, dict[str, Any]]]:
    """``("file:line", object)`` for every non-blank line of a JSONL file.

    A line that is not valid JSON or not an object raises ``ValueError`` naming
    the file and line. ``errors`` is the UTF-8 decoding policy ("replace" keeps
    undecodable bytes visible as U+FFFD for the caller to reject per record).
    """
    path = Path(path)
    for lineno, raw_line in enumerate(path.read_bytes().splitlines(), start=1):
        line = raw_line.decode("utf-8", errors=errors)
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: invalid JSON ({err})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object, found {type(obj).__name__}")
        yield where, obj


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON with sorted keys (non-ASCII text kept readable)."""
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def read_jsonl(path: Path, cls: type[T]) -> list[T]:
    """Read a file written by :func:`write_jsonl` back into ``cls`` instances.

    Blank lines are skipped. A line that is not a JSON object, lacks a field of
    ``cls``, has a field ``cls`` does not know or a value of the wrong type
    raises ``ValueError`` naming the file, the line number and the field.
    """
    path = Path(path)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    required = [name for name, f in fields.items() if _is_required(f)]
    records = []
    for where, obj in json_objects(path):
        for name in required:
            if name not in obj:
                raise ValueError(f"{where}: missing field {name!r} of {cls.__name__}")
        for name, value in obj.items():
            if name not in fields:
                raise ValueError(f"{where}: unknown field {name!r}, expected fields of {cls.__name__}: {list(fields)}")
            if not _matches(value, hints[name]):
                expected = getattr(hints[name], "__name__", str(hints[name]))
                raise ValueError(f"{where}: field {name!r} expected {expected}, found {value!r}")
        try:
            records.append(cls(**obj))
        except ValueError as err:  # a check of the record itself (e.g. a path that leaves its artifact)
            raise ValueError(f"{where}: {err}") from None
    return records


def _is_required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field annotation (``str``, ``int``, ``float``, ``bool``, ``X | None``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)
