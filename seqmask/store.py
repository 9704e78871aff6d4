"""Content-addressed artifact store for pipeline stage outputs.

Layout under the store root::

    objects/<key>/          published artifacts (immutable once renamed into place)
        ...                 files written by the stage's build function
        digests.json        {relative posix path: sha256} for every built file
        lineage.json        caller lineage plus key, stage, digest, size and the build records (timings)
    tmp/<key>.<pid>.<ns>/   builds in progress (or orphans of killed builds)
    locks/<key>.lock        per-key flock files
    corrupt/<key>.<ts>/     quarantined artifacts that failed verification
    scratch/<key>/          state a build keeps across a crash (checkpoints to resume from); removed on publish
    runs/                   one record per run (seqmask.runlog)

A key names *how* an artifact is made (see :func:`make_key`); its digest names
*what* it contains. Artifacts are built in ``tmp/`` and published with a single
atomic ``os.rename``, so readers never see a half-written artifact, and every
read re-hashes the files so corrupt data is never served.
"""

from __future__ import annotations

import builtins  # `ArtifactStore.list` shadows `list` in class-body annotations
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seqmask.files import (
    BUILD_RECORD_FILE,
    DIGESTS_FILE,
    LINEAGE_FILE,
    PARTIAL_WRITE,
    exclusive,
    json_default,
    read_json_object,
    write_json_sorted,
)

logger = logging.getLogger(__name__)

_RESERVED = frozenset({DIGESTS_FILE, LINEAGE_FILE})
_SUMMARY_FIELDS = {"stage": str, "digest": str, "created": str, "bytes": int, "files": int}
"""Lineage fields :meth:`ArtifactStore.list` shows, with their types."""
_CHUNK = 1 << 20  # hash files in 1 MiB chunks; artifacts can be hundreds of MB
# Keys become file names, and "." separates the key from the rest of tmp/corrupt names.
_KEY_RE = re.compile(r"[0-9A-Za-z_-]+")


def default_root() -> Path:
    """Return the store root: ``$SEQMASK_HOME`` if set, else ``~/.cache/seqmask``."""
    home = os.environ.get("SEQMASK_HOME")
    return Path(home) if home else Path.home() / ".cache" / "seqmask"


def canonical_json(obj: Any) -> str:
    """Serialize ``obj`` deterministically (sorted keys, no whitespace, Paths as str)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_key(
    *,
    stage: str,
    version: int,
    config: Mapping[str, Any],
    code_hash: str,
    inputs: Mapping[str, str],
    packages: Mapping[str, str],
) -> str:
    """Return the cache key of a stage run.

    ``inputs`` maps each input name to the digest of the artifact fed in, and ``packages`` each package the stage's
    code imports to its version, so a key changes whenever the stage, its version, config, code, inputs or the
    versions of the packages it runs change.
    """
    return _sha256_text(
        canonical_json(
            {
                "stage": stage,
                "version": version,
                "config": config,
                "code_hash": code_hash,
                "inputs": inputs,
                "packages": packages,
            }
        )
    )


def _tree_digest(file_digests: Mapping[str, str]) -> str:
    """Digest of a whole artifact: sha256 over its canonical ``{path: sha256}`` map."""
    return _sha256_text(canonical_json(file_digests))


@dataclass(frozen=True)
class ArtifactRef:
    """Handle to a published artifact; small, JSON-able and picklable."""

    key: str
    digest: str
    stage: str
    uri: str  # "file://" + absolute artifact directory

    @property
    def path(self) -> Path:
        """Local directory holding the artifact's files."""
        return Path(self.uri.removeprefix("file://"))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ArtifactRef:
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in d]
        if missing:
            raise ValueError(f"ArtifactRef needs keys {names}, missing {missing} in {dict(d)!r}")
        return cls(**{name: d[name] for name in names})


class ArtifactCorrupt(Exception):
    """A published artifact failed verification or has unreadable metadata."""

    def __init__(self, key: str, problems: list[str]) -> None:
        self.key = key
        self.problems = problems
        super().__init__(f"artifact {key} is corrupt: " + "; ".join(problems))


class ArtifactNotFound(KeyError):
    """No published artifact matches the requested key (or key prefix)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _check_key(key: str) -> str:
    """Return ``key`` if it is safe as a file name and as the prefix of tmp/corrupt names."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError(f"invalid artifact key {key!r}: expected letters, digits, '-' or '_'")
    return key


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _take_build_records(root: Path) -> dict[str, dict[str, Any]]:
    """Remove every build record under ``root``; their contents by directory (relative posix path, ``.`` for
    ``root``)."""
    records = {}
    for path in sorted(root.rglob(BUILD_RECORD_FILE)):
        if path.is_file() and not path.is_symlink():
            records[path.parent.relative_to(root).as_posix()] = read_json_object(path)
            path.unlink()
    return records


def _drop_partial_writes(root: Path) -> list[str]:
    """Remove files under ``root`` named by :func:`partial_path`; their relative paths."""
    dropped = []
    for path in sorted(root.rglob(".*.tmp-*")):
        if path.is_file() and PARTIAL_WRITE.fullmatch(path.name):
            path.unlink()
            dropped.append(path.relative_to(root).as_posix())
    return dropped


def _scan(root: Path) -> tuple[list[str], list[str]]:
    """Return sorted relative posix paths of (regular files, other entries) under ``root``.

    Symlinks, FIFOs etc. are "other": an artifact must be self-contained.
    """
    files, others = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:  # symlinks to directories show up in dirnames
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                others.append(rel)
            elif path.is_file():
                files.append(rel)
    return sorted(files), sorted(others)


def _fsync_path(path: Path) -> None:
    """Flush a file's or directory's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Delete a file, symlink or directory tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


class ArtifactStore:
    """Content-addressed store of stage outputs under ``root`` (default: :func:`default_root`)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root if root is not None else default_root()).expanduser().resolve()
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.locks = self.root / "locks"
        self.corrupt = self.root / "corrupt"
        self.scratch = self.root / "scratch"
        self.runs = self.root / "runs"
        for directory in (self.objects, self.tmp, self.locks, self.corrupt, self.scratch, self.runs):
            directory.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- locking

    def _lock_path(self, key: str) -> Path:
        return self.locks / f"{_check_key(key)}.lock"

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the exclusive per-key lock, waiting for it if needed.

        The kernel releases it if the process dies. Not reentrant: while holding it,
        taking it again, :meth:`get_or_build`, or :meth:`get` of a corrupt artifact
        for the same key deadlocks.
        """
        with exclusive(self._lock_path(key)):
            yield

    def builder_lock_path(self, key: str) -> Path:
        """The lock a process holds while it builds ``key`` in its scratch directory (:func:`exclusive`).

        The per-key lock is the caller's; a stage built on a Dask worker holds this one too, so that a build orphaned
        by a killed client (still running on the cluster) ends before a rerun resumes from the same scratch.
        """
        return self.locks / f"{_check_key(key)}.build.lock"

    @contextmanager
    def _try_lock(self, key: str) -> Iterator[bool]:
        """Try to take the per-key lock without waiting; yields whether it was acquired."""
        fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
            except BlockingIOError:
                acquired = False
            yield acquired
        finally:
            os.close(fd)

    # ----------------------------------------------------------------- reading

    def _object_dir(self, key: str) -> Path:
        return self.objects / _check_key(key)

    def _published_keys(self) -> builtins.list[str]:
        """Sorted keys of all published artifacts."""
        return sorted(p.name for p in self.objects.iterdir() if p.is_dir() and _KEY_RE.fullmatch(p.name))

    def _ref(self, key: str, digest: str, stage: str) -> ArtifactRef:
        uri = f"file://{self._object_dir(key)}"
        return ArtifactRef(key=key, digest=digest, stage=stage, uri=uri)

    def lineage(self, key: str) -> dict[str, Any]:
        """Parsed ``lineage.json`` of a published artifact (not verified against its files)."""
        obj = self._object_dir(key)
        if not obj.is_dir():
            raise ArtifactNotFound(f"no published artifact {key} in {self.objects}")
        try:
            return read_json_object(obj / LINEAGE_FILE)
        except ValueError as exc:
            raise ArtifactCorrupt(key, [str(exc)]) from None

    def ref(self, key: str) -> ArtifactRef:
        """Ref for a published key, read from its lineage without re-hashing files."""
        lineage = self.lineage(key)
        problems = [
            f"{LINEAGE_FILE}: expected a string {field!r}, found {lineage.get(field)!r}"
            for field in ("stage", "digest")
            if not isinstance(lineage.get(field), str)
        ]
        if problems:
            raise ArtifactCorrupt(key, problems)
        return self._ref(key, lineage["digest"], lineage["stage"])

    def verify(self, key: str) -> builtins.list[str]:
        """Re-hash a published artifact and return its problems ([] if intact); moves nothing."""
        obj = self._object_dir(key)
        if not obj.is_dir():
            raise ArtifactNotFound(f"no published artifact {key} in {self.objects}")
        problems: builtins.list[str] = []
        expected: dict[str, Any] | None = None
        try:
            expected = read_json_object(obj / DIGESTS_FILE)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            lineage = read_json_object(obj / LINEAGE_FILE)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if lineage.get("key") != key:
                problems.append(f"{LINEAGE_FILE}: expected key {key}, found {lineage.get('key')!r}")
            if not isinstance(lineage.get("stage"), str):
                problems.append(f"{LINEAGE_FILE}: expected a string 'stage', found {lineage.get('stage')!r}")
            if expected is not None and lineage.get("digest") != _tree_digest(expected):
                problems.append(
                    f"{LINEAGE_FILE}: expected digest {_tree_digest(expected)}"
                    f" (from {DIGESTS_FILE}), found {lineage.get('digest')!r}"
                )

        files, others = _scan(obj)
        problems += [f"{rel}: not a regular file" for rel in others]
        if expected is not None:
            actual = set(files) - _RESERVED
            for rel in sorted(expected.keys() - actual):
                problems.append(f"{rel}: missing (listed in {DIGESTS_FILE})")
            for rel in sorted(actual - expected.keys()):
                problems.append(f"{rel}: unexpected file (not in {DIGESTS_FILE})")
            for rel in sorted(actual & expected.keys()):
                found = _sha256_file(obj / rel)
                if found != expected[rel]:
                    problems.append(f"{rel}: content changed (expected sha256 {expected[rel]}, found {found})")
        return problems

    def verify_all(self) -> dict[str, builtins.list[str]]:
        """Problems of every published artifact, by key."""
        return {key: self.verify(key) for key in self._published_keys()}

    def find(self, key: str) -> ArtifactRef | None:
        """Ref for ``key`` when a published artifact verifies, else None; unlike :meth:`get` it moves nothing."""
        if not self._object_dir(key).is_dir() or self.verify(key):
            return None
        return self.ref(key)

    def get(self, key: str) -> ArtifactRef | None:
        """Verified ref for ``key``, or None if absent or corrupt (corrupt ones are quarantined)."""
        if not self._object_dir(key).is_dir():
            return None
        if not self.verify(key):
            return self.ref(key)
        # Quarantine under the lock, re-verifying first: a concurrent builder may
        # already have replaced the corrupt copy we saw with a good one.
        with self.lock(key):
            return self._get_locked(key)

    def _get_locked(self, key: str) -> ArtifactRef | None:
        """:meth:`get` for a caller that already holds the key's lock."""
        if not self._object_dir(key).is_dir():
            return None
        problems = self.verify(key)
        if not problems:
            return self.ref(key)
        self._quarantine(key, problems)
        return None

    def _quarantine(self, key: str, problems: builtins.list[str]) -> None:
        """Move a corrupt artifact to corrupt/<key>.<unix_ts>/ with problems.txt (lock held)."""
        target = self.corrupt / f"{key}.{int(time.time())}"
        suffix = 0
        while target.exists():  # same key quarantined twice within a second
            suffix += 1
            target = self.corrupt / f"{key}.{int(time.time())}-{suffix}"
        os.rename(self._object_dir(key), target)
        (target / "problems.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")
        logger.warning("artifact %s is corrupt, moved to %s: %s", key, target, "; ".join(problems))

    def resolve(self, key_prefix: str) -> str:
        """Full key of the one published artifact whose key starts with ``key_prefix``."""
        if not key_prefix:
            raise ValueError("empty key prefix: expected at least one character of an artifact key")
        if not _KEY_RE.fullmatch(key_prefix):  # never a path: "../x" or "/etc" must not reach the file system
            raise ValueError(
                f"invalid key prefix {key_prefix!r}: expected the first characters of an artifact key (letters, "
                "digits, '-', '_')"
            )
        matches = [key for key in self._published_keys() if key.startswith(key_prefix)]
        if not matches:
            raise ArtifactNotFound(f"no published artifact key starts with {key_prefix!r} in {self.objects}")
        if len(matches) > 1:
            raise ValueError(
                f"key prefix {key_prefix!r} is ambiguous: expected 1 match, found {len(matches)}: " + ", ".join(matches)
            )
        return matches[0]

    # ---------------------------------------------------------------- building

    def scratch_dir(self, key: str) -> Path:
        """A directory that survives a crash of the build of ``key`` (to resume from); removed when it publishes."""
        path = self.scratch / _check_key(key)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def get_or_build(
        self,
        key: str,
        *,
        stage: str,
        build: Callable[[Path], None],
        lineage: Mapping[str, Any],
        force: bool = False,
    ) -> tuple[ArtifactRef, bool]:
        """Return ``(ref, reused)``: the verified artifact for ``key``, building it if needed.

        The per-key lock is held across check and build, so concurrent callers
        build a key once; the others wait and then reuse the published result.
        ``build(tmp_dir)`` writes the artifact's files into ``tmp_dir``; if it
        raises, nothing is published and the exception propagates unchanged.
        ``force`` rebuilds even when a verified artifact is published (``--from``).
        """
        with self.lock(key):
            if force:
                if self._object_dir(key).exists():
                    self._unpublish(key)
            else:
                ref = self._get_locked(key)
                if ref is not None:
                    return ref, True
            return self._build(key, stage, build, lineage), False

    def _unpublish(self, key: str) -> None:
        """Remove a published artifact; the caller holds its lock."""
        # Rename first so a crash mid-delete leaves a tmp orphan, not a half artifact.
        trash = self.tmp / f"{key}.{os.getpid()}.{time.time_ns()}.gc"
        os.rename(self._object_dir(key), trash)
        shutil.rmtree(trash)

    def _build(self, key: str, stage: str, build: Callable[[Path], None], lineage: Mapping[str, Any]) -> ArtifactRef:
        canonical_json(lineage)  # fail on non-JSON lineage before a possibly long build
        # mkdir (not mkdtemp) so the published directory gets umask permissions, not 0700.
        tmp_dir = self.tmp / f"{key}.{os.getpid()}.{time.time_ns()}"
        tmp_dir.mkdir()
        try:
            started = time.monotonic()
            build(tmp_dir)
            build_seconds = time.monotonic() - started
            dropped = _drop_partial_writes(tmp_dir)
            if dropped:
                logger.warning(
                    "build of %s artifact %s: dropped %d partial writes of interrupted tasks: %s",
                    stage,
                    key[:12],
                    len(dropped),
                    ", ".join(dropped[:5]),
                )
            build_records = _take_build_records(tmp_dir)

            files, others = _scan(tmp_dir)
            clashes = sorted(_RESERVED & set(files))
            if others or clashes:
                raise ValueError(
                    f"build of {stage} artifact {key} in {tmp_dir}: expected only regular files"
                    f" not named {sorted(_RESERVED)}; found non-regular {others},"
                    f" reserved {clashes}"
                )
            file_digests = {rel: _sha256_file(tmp_dir / rel) for rel in files}
            digest = _tree_digest(file_digests)
            write_json_sorted(tmp_dir / DIGESTS_FILE, file_digests)
            write_json_sorted(
                tmp_dir / LINEAGE_FILE,
                {
                    **lineage,
                    "key": key,
                    "stage": stage,
                    "digest": digest,
                    "created": datetime.now(UTC).isoformat(),
                    "build_seconds": round(build_seconds, 3),
                    "build": build_records,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "files": len(files),
                    "bytes": sum((tmp_dir / rel).stat().st_size for rel in files),
                },
            )
            for dirpath, _, filenames in os.walk(tmp_dir):
                for name in filenames:
                    _fsync_path(Path(dirpath, name))
                _fsync_path(Path(dirpath))
            os.rename(tmp_dir, self._object_dir(key))
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        _fsync_path(self.objects)
        shutil.rmtree(self.scratch / key, ignore_errors=True)  # what the build kept to resume is spent
        return self._ref(key, digest, stage)

    # ------------------------------------------------------- garbage collection

    def _checked_lineage(self, key: str) -> dict[str, Any]:
        """:meth:`lineage`, with ``ArtifactCorrupt`` also when a summary field or ``inputs`` has the wrong type."""
        lineage = self.lineage(key)
        problems = [
            f"{LINEAGE_FILE}: expected {kind.__name__} {field!r}, found {lineage.get(field)!r}"
            for field, kind in _SUMMARY_FIELDS.items()
            if not isinstance(lineage.get(field), kind) or isinstance(lineage.get(field), bool)
        ]
        inputs = lineage.get("inputs", {})
        if not isinstance(inputs, Mapping):
            problems.append(f"{LINEAGE_FILE}: expected 'inputs' to be an object, found {inputs!r}")
        else:
            problems += [
                f"{LINEAGE_FILE}: expected inputs[{name!r}] to hold a 'key', found {entry!r}"
                for name, entry in inputs.items()
                if not (isinstance(entry, Mapping) and isinstance(entry.get("key"), str))
            ]
        if problems:
            raise ArtifactCorrupt(key, problems)
        return lineage

    def _reachable(self, keep: Iterable[str]) -> tuple[set[str], dict[str, builtins.list[str]]]:
        """Kept keys plus every published key reachable through ``lineage["inputs"]``, and the problems of the
        artifacts on the way whose lineage cannot be followed (corrupt: they are not kept)."""
        reachable: set[str] = set()
        corrupt: dict[str, builtins.list[str]] = {}
        pending = list(keep)
        while pending:
            key = pending.pop()
            if key in reachable or key in corrupt:
                continue
            if not self._object_dir(key).is_dir():
                reachable.add(key)
                continue
            try:
                pending += [entry["key"] for entry in self._checked_lineage(key).get("inputs", {}).values()]
            except ArtifactCorrupt as exc:
                corrupt[key] = exc.problems
                continue
            reachable.add(key)
        return reachable, corrupt

    def gc(self, keep: Iterable[str], *, dry_run: bool = False) -> builtins.list[str]:
        """Remove unreachable artifacts, all quarantined ones and orphaned temp dirs.

        Artifacts reachable from ``keep`` through lineage inputs survive, as do
        artifacts and temp dirs whose key lock is currently held by a builder. A
        kept artifact whose lineage cannot be read is corrupt: it is removed (the
        run that needs it rebuilds it) and logged. Returns root-relative paths of
        what was (or, with ``dry_run``, would be) removed.
        """
        reachable, corrupt = self._reachable(keep)
        for key, problems in corrupt.items():
            logger.warning("artifact %s is corrupt and will be removed: %s", key, "; ".join(problems))
        removed: builtins.list[str] = []

        for key in self._published_keys():
            if key in reachable:
                continue
            with self._try_lock(key) as free:
                if not free:
                    continue
                removed.append(f"objects/{key}")
                if not dry_run:
                    self._unpublish(key)

        for entry in sorted(self.corrupt.iterdir()):
            removed.append(f"corrupt/{entry.name}")
            if not dry_run:
                _remove(entry)

        for entry in sorted(self.scratch.iterdir()):  # free once no build holds the key
            with self._try_lock(entry.name) if _KEY_RE.fullmatch(entry.name) else nullcontext(True) as free:
                if free:
                    removed.append(f"scratch/{entry.name}")
                    if not dry_run:
                        _remove(entry)

        for entry in sorted(self.tmp.iterdir()):
            key = entry.name.partition(".")[0]
            # Names this store did not create have no lock to respect.
            with self._try_lock(key) if _KEY_RE.fullmatch(key) else nullcontext(True) as free:
                if not free:
                    continue  # a build of this key is running
                removed.append(f"tmp/{entry.name}")
                if not dry_run:
                    _remove(entry)
        return removed

    def list(self) -> builtins.list[dict[str, Any]]:
        """One summary dict (key, stage, digest, created, bytes, files, problems) per artifact, oldest first.

        Reads lineage only (no re-hashing). An artifact whose lineage is unreadable or
        holds fields of the wrong type is listed with the fields None and its
        ``problems`` (empty for the others).
        """
        rows = []
        for key in self._published_keys():
            try:
                lineage = self._checked_lineage(key)
            except ArtifactCorrupt as exc:
                rows.append({"key": key, "problems": exc.problems, **dict.fromkeys(_SUMMARY_FIELDS)})
            else:
                rows.append({"key": key, "problems": [], **{field: lineage[field] for field in _SUMMARY_FIELDS}})
        return sorted(rows, key=lambda row: (str(row["created"] or ""), row["key"]))
