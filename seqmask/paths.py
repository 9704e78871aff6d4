"""Where the project's own files are: presets, embedded data and the paths configs name relative to them."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRESETS_DIR = PROJECT_ROOT / "configs"


def resolve_path(path: str | Path) -> Path:
    """A config path: absolute as given, a relative one against the project root (``~`` expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
