"""What every config section shares: its error, the path marker and the check its ``validate()`` uses.

A section is a frozen, keyword-only dataclass beside the code that reads it, with a
one-line docstring per field and a ``validate()`` that calls :func:`require` with
the field's own name; the loader (:mod:`seqmask.config`) prefixes the section's key.
This module imports nothing heavy, so sections stay cheap to load.
"""

from __future__ import annotations

from typing import Any

PATH = {"path": True}
"""Metadata of a field that holds a filesystem path. A relative path in a preset resolves against the project
root; on the command line (``--set KEY=PATH``, ``--manifest`` ...) against the current directory."""


class ConfigError(ValueError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


def require(ok: bool, key: str, expected: str, found: Any) -> None:
    """Raise ``ConfigError("key: expected ..., found ...")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}: expected {expected}, found {found!r}")
