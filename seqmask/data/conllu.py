"""Universal Dependencies treebanks (CoNLL-U): sentences with their words and gold UPOS tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqmask.data.compressed import MAX_TEXT_BYTES, open_capped


@dataclass(frozen=True)
class TaggedSentence:
    """One treebank sentence: its id, text, and per syntactic word the form and UPOS tag."""

    sent_id: str
    text: str
    words: tuple[str, ...]
    tags: tuple[str, ...]


def read_conllu(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> list[TaggedSentence]:
    """Every sentence of a ``.conllu`` file (compressed when it ends in ``.gz`` or ``.xz``), read line by line.

    Multiword-token lines (``1-2``) and empty nodes (``1.1``) are skipped: the
    syntactic words carry the tags. A malformed line raises ``ValueError`` naming
    the file and line; more than ``max_bytes`` of (inflated) text raises
    :class:`~seqmask.data.compressed.TooLarge`.
    """
    sentences: list[TaggedSentence] = []
    sent_id, text, words, tags = "", "", [], []
    with open_capped(Path(path), max_bytes) as stream:
        for number, raw in enumerate(stream, start=1):
            line = _decoded(path, number, raw)
            if line.startswith("#"):
                key, _, value = line[1:].partition("=")
                if key.strip() == "sent_id":
                    sent_id = value.strip()
                elif key.strip() == "text":
                    text = value.strip()
                continue
            if not line.strip():
                if words:
                    sentences.append(
                        TaggedSentence(
                            sent_id or f"{path.name}:{number}", text or " ".join(words), tuple(words), tuple(tags)
                        )
                    )
                sent_id, text, words, tags = "", "", [], []
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise ValueError(f"{path}:{number}: expected 10 tab-separated CoNLL-U fields, found {len(fields)}")
            if "-" in fields[0] or "." in fields[0]:
                continue
            words.append(fields[1])
            tags.append(fields[3])
    if words:
        sentences.append(
            TaggedSentence(sent_id or f"{path.name}:end", text or " ".join(words), tuple(words), tuple(tags))
        )
    return sentences


def _decoded(path: Path, number: int, raw: bytes) -> str:
    """Line ``number`` as text, without its line end (and the first line without a BOM)."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path}:{number}: expected UTF-8 text, found byte 0x{raw[err.start]:02x} at column {err.start + 1}"
        ) from None
    return line.removeprefix("\ufeff") if number == 1 else line
