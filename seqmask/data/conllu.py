"""Universal Dependencies treebanks (CoNLL-U): sentences with their words and gold UPOS tags."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TaggedSentence:
    """One treebank sentence: its id, text, and per syntactic word the form and UPOS tag."""

    sent_id: str
    text: str
    words: tuple[str, ...]
    tags: tuple[str, ...]


def read_conllu(path: Path) -> list[TaggedSentence]:
    """Every sentence of a ``.conllu`` file (gzipped when it ends in ``.gz``).

    Multiword-token lines (``1-2``) and empty nodes (``1.1``) are skipped: the
    syntactic words carry the tags. A malformed line raises ``ValueError`` naming
    the file and line.
    """
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    sentences: list[TaggedSentence] = []
    sent_id, text, words, tags = "", "", [], []
    for number, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1):  # a leading BOM dropped
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() == "sent_id":
                sent_id = value.strip()
            elif key.strip() == "text":
                text = value.strip()
            continue
        if not line.strip():
            if words:
                sentences.append(TaggedSentence(sent_id or f"{path.name}:{number}", text or " ".join(words), tuple(words), tuple(tags)))
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
        sentences.append(TaggedSentence(sent_id or f"{path.name}:end", text or " ".join(words), tuple(words), tuple(tags)))
    return sentences
