"""Parallel and monolingual text for the text pipeline: readers, cleaning and rejects with reasons.

Sources: LASER's Tatoeba pairs (``tatoeba.{xxx}-eng.{xxx|eng}[.gz]``), LibreOffice
interface strings (``english<TAB>translation`` per line), two line-aligned files of
a user, and Sinhala-Tamil pairs pivoted through identical English strings. Every
sentence is NFC-normalised with its whitespace collapsed; a line that cannot be
used is rejected with its file, line number and reason, never dropped silently.
"""

from __future__ import annotations

import gzip
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REJECT_REASONS = ("bad_utf8", "empty", "too_short", "too_long", "wrong_script", "duplicate")
SCRIPTS = {
    "eng": ("Latin", lambda ch: ch.isascii() or "LATIN" in unicodedata.name(ch, "")),
    "sin": ("Sinhala", lambda ch: "\u0d80" <= ch <= "\u0dff"),
    "tam": ("Tamil", lambda ch: "\u0b80" <= ch <= "\u0bff"),
}
"""Languages whose script is checked: the script's name and a test for one of its letters."""
MIN_SCRIPT_SHARE = 0.5
"""A sentence whose letters are less than this share in its language's script is rejected (``wrong_script``)."""


@dataclass(frozen=True)
class Pair:
    """Two sentences that translate each other; ``origin`` is ``file:line`` of the first."""

    source_language: str
    target_language: str
    source: str
    target: str
    origin: str


@dataclass(frozen=True)
class Reject:
    """A line that was not kept: where it was, why, and what it held (cut short)."""

    origin: str
    reason: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Sentence length bounds in characters (after normalisation)."""

    min_chars: int = 3
    max_chars: int = 400


def clean(text: str) -> str:
    """NFC (Sinhala and Tamil need canonical, not compatibility, composition), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def script_share(sentence: str, language: str) -> float | None:
    """Share of the letters of ``sentence`` in ``language``'s script; None when the language's script is not checked or
    the sentence has no letters."""
    if language not in SCRIPTS:
        return None
    letters = [ch for ch in sentence if unicodedata.category(ch)[0] in "LM"]
    if not letters:
        return None
    in_script = SCRIPTS[language][1]
    return sum(1 for ch in letters if in_script(ch)) / len(letters)


def read_lines(path: Path) -> tuple[list[str | None], list[Reject]]:
    """The lines of a text file (gzipped when it ends in ``.gz``); a line that is not UTF-8 is None and rejected."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    lines: list[str | None] = []
    rejects: list[Reject] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            lines.append(None)
            rejects.append(Reject(f"{path}:{number}", "bad_utf8", f"invalid byte 0x{raw[err.start]:02x} at column {err.start + 1}"))
    if data.endswith(b"\n"):
        lines.pop()  # the final newline ends the last line, it does not start another
    return lines, rejects


def read_aligned(source_path: Path, target_path: Path, source_language: str, target_language: str, limits: Limits) -> tuple[list[Pair], list[Reject]]:
    """Two line-aligned files: line ``i`` of one translates line ``i`` of the other. Different line counts raise
    ``ValueError`` naming both files and counts."""
    source_lines, rejects = read_lines(source_path)
    target_lines, target_rejects = read_lines(target_path)
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"{source_path} has {len(source_lines)} lines but {target_path} has {len(target_lines)}: "
            "parallel files must be line-aligned"
        )
    rejects += target_rejects
    rows = [(f"{source_path}:{i}", s, t) for i, (s, t) in enumerate(zip(source_lines, target_lines), start=1)]
    return _keep_pairs(rows, source_language, target_language, limits, rejects)


def read_tatoeba(tatoeba_dir: Path, language: str, limits: Limits) -> tuple[list[Pair], list[Reject]]:
    """LASER's Tatoeba pairs of ``language`` with English (``language`` -> ``eng``)."""
    stem = Path(tatoeba_dir) / f"tatoeba.{language}-eng"
    paths = []
    for side in (language, "eng"):
        found = [p for p in (stem.with_name(f"{stem.name}.{side}.gz"), stem.with_name(f"{stem.name}.{side}")) if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{tatoeba_dir}: no Tatoeba file {stem.name}.{side}[.gz]")
        paths.append(found[0])
    return read_aligned(paths[0], paths[1], language, "eng", limits)


def read_tab_pairs(path: Path, source_language: str, target_language: str, limits: Limits) -> tuple[list[Pair], list[Reject]]:
    """``source<TAB>target`` per line (LibreOffice's ``english<TAB>translation``)."""
    lines, rejects = read_lines(path)
    rows = []
    for number, line in enumerate(lines, start=1):
        if line is None:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            rejects.append(Reject(f"{path}:{number}", "empty", f"expected 2 tab-separated fields, found {len(fields)}"))
            continue
        rows.append((f"{path}:{number}", fields[0], fields[1]))
    return _keep_pairs(rows, source_language, target_language, limits, rejects)


def read_monolingual(path: Path, language: str, limits: Limits) -> tuple[list[tuple[str, str]], list[Reject]]:
    """``(sentence, file:line)`` of a file of one sentence a line; a line is kept or rejected as a side of a pair is
    (the first of identical lines is kept)."""
    lines, rejects = read_lines(path)
    rows = [(f"{path}:{number}", line, line) for number, line in enumerate(lines, start=1) if line is not None]
    kept, rejects = _keep_pairs(rows, language, language, limits, rejects)
    return [(pair.source, pair.origin) for pair in kept], rejects


def pivot(first: Sequence[Pair], second: Sequence[Pair]) -> list[Pair]:
    """Pairs of the two non-English sides of ``first`` (eng -> x) and ``second`` (eng -> y) whose English is identical.

    An English string with several translations on either side is left out: its pairing would be a guess.
    """
    if {p.source_language for p in (*first, *second)} != {"eng"}:
        raise ValueError("pivot expects English-source pairs on both sides")
    by_english = [_unique_by_source(pairs) for pairs in (first, second)]
    return [
        Pair(a.target_language, b.target_language, a.target, b.target, f"{a.origin}+{b.origin}")
        for english, a in sorted(by_english[0].items()) if (b := by_english[1].get(english)) is not None
    ]


def _unique_by_source(pairs: Iterable[Pair]) -> dict[str, Pair]:
    found: dict[str, list[Pair]] = {}
    for pair in pairs:
        found.setdefault(pair.source, []).append(pair)
    return {source: group[0] for source, group in found.items() if len(group) == 1}


def _keep_pairs(
    rows: Iterable[tuple[str, str | None, str | None]], source_language: str, target_language: str, limits: Limits, rejects: list[Reject]
) -> tuple[list[Pair], list[Reject]]:
    """Clean each side and keep a pair only when both sides pass; the first of two identical pairs is kept."""
    kept: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    for origin, source, target in rows:
        if source is None or target is None:
            continue  # rejected as bad_utf8 when read
        source, target = clean(source), clean(target)
        problem = _problem(source, source_language, limits) or _problem(target, target_language, limits)
        if problem is None and (source, target) in seen:
            problem = ("duplicate", "the same pair appears earlier")
        if problem is not None:
            rejects.append(Reject(origin, problem[0], problem[1]))
            continue
        seen.add((source, target))
        kept.append(Pair(source_language, target_language, source, target, origin))
    return kept, rejects


def _problem(sentence: str, language: str, limits: Limits) -> tuple[str, str] | None:
    """Why ``sentence`` cannot be used, as (reason, detail), or None."""
    if not sentence:
        return "empty", f"empty {language} side"
    if len(sentence) < limits.min_chars:
        return "too_short", f"{language}: {len(sentence)} characters < {limits.min_chars}"
    if len(sentence) > limits.max_chars:
        return "too_long", f"{language}: {len(sentence)} characters > {limits.max_chars}"
    share = script_share(sentence, language)
    if share is not None and share < MIN_SCRIPT_SHARE:
        return "wrong_script", f"{language}: {share:.0%} of its letters are {SCRIPTS[language][0]}: {sentence[:60]!r}"
    return None
