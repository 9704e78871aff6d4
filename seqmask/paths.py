"""Where the project's own files are: presets, embedded data and the paths configs name relative to them."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRESETS_DIR = PROJECT_ROOT / "configs"


def resolve_path(path: str | Path) -> Path:
    """A config path: absolute as given, a relative one against the project root (``~`` expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def config_path(path: str | Path) -> str:
    """How a config names ``path``: relative to the project root when inside it (so an artifact that records it is the
    same in every checkout), absolute otherwise."""
    path = Path(path).resolve()
    return path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else str(path)
