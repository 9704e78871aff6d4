"""What every data-prep stage keeps of what it left out: one record per rejected item, with why.

Speech utterances, lines of text and BVH clips are rejected the same way: a record in the stage's ``rejects.jsonl``
(never dropped silently, never fatal to the run), counted by reason in its summary.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reject:
    """Something left out of a corpus: where it came from, why (a short code) and what was found."""

    origin: str
    """The file it came from (``path``, or ``path:line`` for a line of text)."""
    reason: str
    """A short code (``decode_error``, ``too_large``, ``other_skeleton``, ...): what summaries count."""
    detail: str
    """What was expected and what was found."""
    id: str | None = None
    """The record's id, when it has one (a speech utterance)."""
    source: str | None = None
    """The corpus it belongs to, when the stage merges several."""
