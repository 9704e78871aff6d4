"""Parallel and monolingual text for the text pipeline: readers, cleaning and rejects with reasons.

Sources: LASER's Tatoeba pairs (``tatoeba.{xxx}-eng.{xxx|eng}[.gz]``), LibreOffice
interface strings (``english<TAB>translation`` per line), two line-aligned files of
a user, and Sinhala-Tamil pairs pivoted through identical English strings. Every
sentence is NFC-normalised with its whitespace collapsed; a line that cannot be
used is rejected with its file, line number and reason, never dropped silently.

Files are read one line at a time, each read bounded: a line too long to be a
sentence is rejected without ever being held whole, and a file whose text (inflated
when compressed) passes a cap is refused (``too_large``) rather than inflated.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqmask.data.compressed import MAX_TEXT_BYTES, CappedLines, open_capped
from seqmask.data.rejects import Reject

REJECT_REASONS = ("bad_utf8", "bad_text", "empty", "too_short", "too_long", "too_large", "wrong_script", "duplicate")
SCRIPTS = {
    "eng": ("Latin", lambda ch: ch.isascii() or "LATIN" in unicodedata.name(ch, "")),
    "sin": ("Sinhala", lambda ch: "\u0d80" <= ch <= "\u0dff"),
    "tam": ("Tamil", lambda ch: "\u0b80" <= ch <= "\u0bff"),
}
"""Languages whose script is checked: the script's name and a test for one of its letters."""
MIN_SCRIPT_SHARE = 0.5
"""A sentence whose letters are less than this share in its language's script is rejected (``wrong_script``)."""
UTF8_MAX_BYTES = 4
"""Bytes of the longest UTF-8 character: a line of more than ``4 * n`` bytes holds more than ``n`` characters."""
SKIP_CHUNK = 1 << 20
"""Bytes read at a time while skipping the rest of a line too long to keep."""
BOM = "\ufeff"
"""A byte order mark: dropped from the start of a file."""
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
"""Control characters (Unicode ``Cc``) other than tab, which separates fields: no sentence holds one (``bad_text``)."""


@dataclass(frozen=True)
class Pair:
    """Two sentences that translate each other; ``origin`` is ``file:line`` of the first."""

    source_language: str
    target_language: str
    source: str
    target: str
    origin: str


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Sentence length bounds in characters, and how much text a file may hold (inflated when compressed)."""

    min_chars: int = 3
    """Shorter sentences (after normalisation) are ``too_short``."""
    max_chars: int = 400
    """Longer sentences, as read or after normalisation, are ``too_long``."""
    max_inflated_bytes: int = MAX_TEXT_BYTES
    """A file of more bytes of text (a ``.gz`` or ``.xz`` one inflated) is ``too_large``: left out whole."""


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


def control_character(text: str) -> str | None:
    """Which control character other than tab ``text`` holds, and where (``"U+0000 at column 7"``); None if none."""
    found = CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X} at column {found.start() + 1}"


def read_lines(
    path: Path, limits: Limits, rejects: list[Reject], *, sentences: int = 1
) -> Iterator[tuple[str, str | None]]:
    """``(file:line, text)`` for each line of a UTF-8 text file (compressed when its name ends in ``.gz`` or ``.xz``),
    read one at a time.

    A leading BOM is dropped. A line that is not UTF-8 (``bad_utf8``), holds a control character other than tab
    (``bad_text``) or has more bytes than ``sentences`` tab-separated sentences of ``limits.max_chars`` can take
    (``too_long``, skipped without being held whole) gives None, its reject appended to ``rejects``. A file whose
    (inflated) text passes ``limits.max_inflated_bytes`` raises :class:`~seqmask.data.compressed.TooLarge`.
    """
    line_chars = sentences * limits.max_chars + sentences - 1
    max_bytes = UTF8_MAX_BYTES * line_chars + len(b"\r")
    too_long = (
        "too_long",
        (
            f"more than {max_bytes} bytes, so more than the {line_chars} characters a line may hold (max_chars = "
            f"{limits.max_chars}): skipped unread"
        ),
    )
    with open_capped(Path(path), limits.max_inflated_bytes) as binary:
        for number, raw in enumerate(_bounded_lines(binary, max_bytes), start=1):
            text, problem = (None, too_long) if raw is None else _decoded(raw, first=number == 1)
            if problem is not None:
                rejects.append(Reject(f"{path}:{number}", *problem))
            yield f"{path}:{number}", text


def _bounded_lines(binary: CappedLines, max_bytes: int) -> Iterator[bytes | None]:
    """Each line without its ``\\n`` or ``\\r\\n``; None for one of more than ``max_bytes`` bytes, whose rest is read in
    chunks and dropped, so that no more than ``max_bytes`` of a line are ever held."""
    while line := binary.readline(max_bytes + 1):
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while (rest := binary.readline(SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line.removesuffix(b"\n").removesuffix(b"\r")


def _decoded(raw: bytes, *, first: bool) -> tuple[str | None, tuple[str, str] | None]:
    """A line's text (the first line's BOM dropped), or None and why not, as (reason, detail)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, ("bad_utf8", f"invalid byte 0x{raw[err.start]:02x} at column {err.start + 1}")
    text = text.removeprefix(BOM) if first else text
    control = control_character(text)
    return (None, ("bad_text", f"control character {control}")) if control else (text, None)


def read_aligned(
    source_path: Path, target_path: Path, source_language: str, target_language: str, limits: Limits
) -> tuple[list[Pair], list[Reject]]:
    """Two line-aligned files: line ``i`` of one translates line ``i`` of the other. Different line counts raise
    ``ValueError`` naming both files and counts."""
    rejects: list[Reject] = []
    lines = read_lines(source_path, limits, rejects), read_lines(target_path, limits, rejects)
    return _keep_pairs(
        _aligned_rows(*lines, source_path, target_path), source_language, target_language, limits, rejects
    )


def _aligned_rows(
    source_lines: Iterable[tuple[str, str | None]],
    target_lines: Iterable[tuple[str, str | None]],
    source_path: Path,
    target_path: Path,
) -> Iterator[tuple[str, str | None, str | None]]:
    """``(origin, source, target)`` of each line pair (origin: the source file's line); once both files are read,
    different line counts raise ``ValueError``."""
    counts = [0, 0]
    for source, target in itertools.zip_longest(source_lines, target_lines):
        counts[0] += source is not None
        counts[1] += target is not None
        if source is not None and target is not None:
            yield source[0], source[1], target[1]
    if counts[0] != counts[1]:
        raise ValueError(
            f"{source_path} has {counts[0]} lines but {target_path} has {counts[1]}: parallel files must be "
            "line-aligned"
        )


def read_tatoeba(tatoeba_dir: Path, language: str, limits: Limits) -> tuple[list[Pair], list[Reject]]:
    """LASER's Tatoeba pairs of ``language`` with English (``language`` -> ``eng``)."""
    stem = Path(tatoeba_dir) / f"tatoeba.{language}-eng"
    paths = []
    for side in (language, "eng"):
        found = [
            p for p in (stem.with_name(f"{stem.name}.{side}.gz"), stem.with_name(f"{stem.name}.{side}")) if p.is_file()
        ]
        if not found:
            raise FileNotFoundError(f"{tatoeba_dir}: no Tatoeba file {stem.name}.{side}[.gz]")
        paths.append(found[0])
    return read_aligned(paths[0], paths[1], language, "eng", limits)


def read_tab_pairs(
    path: Path, source_language: str, target_language: str, limits: Limits
) -> tuple[list[Pair], list[Reject]]:
    """``source<TAB>target`` per line (LibreOffice's ``english<TAB>translation``)."""
    rejects: list[Reject] = []
    rows = _tab_rows(read_lines(path, limits, rejects, sentences=2), rejects)
    return _keep_pairs(rows, source_language, target_language, limits, rejects)


def _tab_rows(lines: Iterable[tuple[str, str | None]], rejects: list[Reject]) -> Iterator[tuple[str, str, str]]:
    for origin, line in lines:
        if line is None:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            rejects.append(Reject(origin, "empty", f"expected 2 tab-separated fields, found {len(fields)}"))
            continue
        yield origin, fields[0], fields[1]


def read_monolingual(path: Path, language: str, limits: Limits) -> tuple[list[tuple[str, str]], list[Reject]]:
    """``(sentence, file:line)`` of a file of one sentence a line; a line is kept or rejected as a side of a pair is
    (the first of identical lines is kept)."""
    rejects: list[Reject] = []
    rows = ((origin, line, line) for origin, line in read_lines(path, limits, rejects))
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
        for english, a in sorted(by_english[0].items())
        if (b := by_english[1].get(english)) is not None
    ]


def _unique_by_source(pairs: Iterable[Pair]) -> dict[str, Pair]:
    found: dict[str, list[Pair]] = {}
    for pair in pairs:
        found.setdefault(pair.source, []).append(pair)
    return {source: group[0] for source, group in found.items() if len(group) == 1}


def _keep_pairs(
    rows: Iterable[tuple[str, str | None, str | None]],
    source_language: str,
    target_language: str,
    limits: Limits,
    rejects: list[Reject],
) -> tuple[list[Pair], list[Reject]]:
    """Clean each side and keep a pair only when both sides pass; the first of two identical pairs is kept."""
    kept: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    for origin, source, target in rows:
        if source is None or target is None:
            continue  # rejected when read
        source, source_problem = _checked(source, source_language, limits)
        target, target_problem = _checked(target, target_language, limits)
        problem = source_problem or target_problem
        if problem is None and (source, target) in seen:
            problem = ("duplicate", "the same pair appears earlier")
        if problem is not None:
            rejects.append(Reject(origin, problem[0], problem[1]))
            continue
        seen.add((source, target))
        kept.append(Pair(source_language, target_language, source, target, origin))
    return kept, rejects


def _checked(text: str, language: str, limits: Limits) -> tuple[str, tuple[str, str] | None]:
    """``text`` cleaned and why it cannot be used (or None); its length is checked as read first, before any copy."""
    if len(text) > limits.max_chars:
        return text, ("too_long", f"{language}: {len(text)} characters as read > {limits.max_chars}")
    cleaned = clean(text)
    return cleaned, _problem(cleaned, language, limits)


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
