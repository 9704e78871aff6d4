"""``metrics.jsonl`` of a training run: one JSON object per logged step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_metrics(path: Path, row: dict[str, Any]) -> None:
    """Append one row (must hold ``step``)."""
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(row) + "\n")


def truncate_metrics(path: Path, step: int) -> None:
    """Drop rows after ``step``: written by a killed run after the checkpoint it resumes from."""
    rows = read_metrics(path) if path.is_file() else []
    path.write_text("".join(json.dumps(row) + "\n" for row in rows if row["step"] <= step), encoding="utf-8")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every row of a ``metrics.jsonl``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
