"""Per-run records of stage states, durations and artifacts, read by ``seqmask status``."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunLog:
    """One JSON file per run under ``<store>/runs``, rewritten atomically after every event."""

    def __init__(
        self, runs_dir: Path, *, flow: str, preset: str, argv: Sequence[str], orchestrator_run_id: str | None = None
    ) -> None:
        runs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # stages of one run may finish in several threads
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.path = runs_dir / f"{self.run_id}.json"
        self.record: dict[str, Any] = {
            "run_id": self.run_id,
            "flow": flow,
            "preset": preset,
            "argv": list(argv),
            "orchestrator_run_id": orchestrator_run_id,
            "pid": os.getpid(),
            "cwd": os.getcwd(),
            "state": "running",
            "started": _now(),
            "finished": None,
            "stages": {},
        }
        self._write()

    def stage_started(self, name: str, key: str) -> None:
        self._update_stage(name, state="running", key=key, started=_now(), seconds=None, error=None)

    def stage_finished(self, name: str, key: str, *, reused: bool, seconds: float) -> None:
        """The stage published (or reused) the artifact ``key`` after ``seconds``."""
        self._update_stage(name, state="reused" if reused else "computed", key=key, seconds=round(seconds, 3))

    def stage_failed(self, name: str, error: str, seconds: float) -> None:
        self._update_stage(name, state="failed", error=error, seconds=round(seconds, 3))

    def finish(self, state: str, error: str = "interrupted: the run stopped while the stage ran") -> None:
        """Close the run; a stage still running when a run fails failed with it (``error``)."""
        with self._lock:
            if state == "failed":
                for entry in self.record["stages"].values():
                    if entry["state"] == "running":
                        entry.update(state="failed", error=error)
            self.record.update(state=state, finished=_now())
            self._write()

    def _update_stage(self, name: str, **fields: Any) -> None:
        """Set ``fields`` of a stage's entry (started now, no key, when new) and rewrite the record. Once the run is
        over, a stage that ends later (in another thread of an interrupted run) keeps the state the run's end gave
        it."""
        with self._lock:
            if self.record["finished"] is not None:
                return
            self.record["stages"].setdefault(name, {"started": _now(), "key": None, "error": None}).update(fields)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.record, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def latest_runs(runs_dir: Path, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` run records, newest first; a 'running' run whose process is gone shows as 'crashed'.

    A record that cannot be read shows with state ``"corrupt"``, its file in ``path`` and the reason in ``error``.
    """
    records = []
    for path in sorted(runs_dir.glob("*.json"), reverse=True)[:limit]:
        try:
            record = _read_record(path)
        except ValueError as err:
            records.append(
                {"run_id": path.stem, "path": str(path), "state": "corrupt", "error": str(err), "stages": {}}
            )
            continue
        if record["state"] == "running" and not _pid_alive(record["pid"]):
            record["state"] = "crashed"
            for stage in record["stages"].values():
                if stage["state"] == "running":
                    stage["state"] = "crashed"
        records.append(record)
    return records


_RECORD_FIELDS = {
    "run_id": str,
    "flow": str,
    "preset": str,
    "argv": list,
    "pid": int,
    "state": str,
    "started": str,
    "stages": dict,
}


def _read_record(path: Path) -> dict[str, Any]:
    """A run record; ``ValueError`` naming the file when it is not one."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"run record {path} is unreadable ({err})") from None
    if not isinstance(record, dict):
        raise ValueError(f"run record {path}: expected a JSON object, found {type(record).__name__}")
    wrong = [name for name, kind in _RECORD_FIELDS.items() if not isinstance(record.get(name), kind)]
    if wrong:
        raise ValueError(f"run record {path}: fields {wrong} are missing or of the wrong type")
    if not all(isinstance(stage, dict) and isinstance(stage.get("state"), str) for stage in record["stages"].values()):
        raise ValueError(f"run record {path}: expected every stage to be an object with a 'state'")
    return record
