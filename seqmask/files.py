"""Files written so that no reader sees half of one, and the JSON and JSON-lines I/O every stage shares.

Nothing here knows the artifact store, so a stage that writes files does not have the store's code in its key.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import types
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, TypeVar

T = TypeVar("T")

LINEAGE_FILE = "lineage.json"
"""The published artifact's record of how it was made (:mod:`seqmask.store`)."""
DIGESTS_FILE = "digests.json"
"""The published artifact's sha256 of every file it holds (:mod:`seqmask.store`)."""
BUILD_RECORD_FILE = "build.json"
"""What a build measured about itself rather than what it made: wall-clock times and speeds, the step a training resumed
from, threads. Two builds of one artifact differ there, so such a file (:func:`record_build`, at any depth) is not
part of the artifact: at publish the store moves each into ``lineage.json``'s ``build`` (by its directory, ``.`` for
the top), outside the digest, and artifacts built twice get one digest (and downstream keys stay the same)."""
PARTIAL_WRITE = re.compile(r"\..+\.tmp-\d+(\.\w+)?")
"""Names :func:`partial_path` gives."""


def partial_path(path: Path, suffix: str = "") -> Path:
    """Where a stage writes ``path`` before renaming it into place (``suffix``: a file type for writers that read it off
    the name). A Dask worker killed between the write and the rename leaves such a file behind, and the rerun of its
    task (another process) writes its own; the store drops these leftovers before it publishes."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")


def record_build(directory: Path, **facts: Any) -> None:
    """Add ``facts`` (JSON values) to the build record of ``directory``, a directory of an artifact being built."""
    path = Path(directory) / BUILD_RECORD_FILE
    record = read_json_object(path) if path.is_file() else {}
    tmp = partial_path(path)
    write_json_sorted(tmp, {**record, **facts})
    os.replace(tmp, path)


def read_build_record(artifact: Path, directory: str = ".") -> dict[str, Any]:
    """The build record of ``directory`` (relative posix path) of an artifact: from its lineage once published, from
    its ``build.json`` while being built; empty when none was recorded."""
    artifact = Path(artifact)
    if (artifact / LINEAGE_FILE).is_file():
        return dict(read_json_object(artifact / LINEAGE_FILE).get("build", {}).get(directory, {}))
    path = artifact / directory / BUILD_RECORD_FILE
    return read_json_object(path) if path.is_file() else {}


def write_json_sorted(path: Path, obj: Any) -> None:
    """Write human-readable JSON (sorted keys, Paths as str)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False, default=json_default)
        f.write("\n")


def read_json_object(path: Path) -> dict[str, Any]:
    """Parse a JSON object file; ValueError names the file and what was wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path.name}: missing") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path.name}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: expected a JSON object, found {type(data).__name__}")
    return data


def json_default(obj: Any) -> str:
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON: {obj!r}")


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created when missing), waiting for it; the kernel releases it if the process
    dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


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
