"""Captions from Bandai's (content, style) labels: several templates per pair ("a person bows angrily", "an angry person
bows"), and the word vocabulary the text encoders read."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

ACTIONS = {
    "walk": "walks",
    "run": "runs",
    "dash": "dashes forward",
    "walk-back": "walks backwards",
    "walk-left": "walks to the left",
    "walk-right": "walks to the right",
    "bow": "bows",
    "bye": "waves goodbye",
    "guide": "guides someone the way",
    "byebye": "waves bye bye with both hands",
    "respond": "responds with a nod",
    "call": "calls someone over",
    "punch": "punches",
    "kick": "kicks",
    "slash": "slashes with a sword",
    "dance-long": "dances",
    "dance-short": "dances briefly",
}
"""Content label -> verb phrase (third person)."""
STYLES = {
    "normal": ("normally", "ordinary"),
    "happy": ("happily", "happy"),
    "sad": ("sadly", "sad"),
    "angry": ("angrily", "angry"),
    "proud": ("proudly", "proud"),
    "not-confident": ("timidly", "unconfident"),
    "masculinity": ("in a masculine way", "masculine"),
    "feminine": ("in a feminine way", "feminine"),
    "childish": ("childishly", "childish"),
    "old": ("like an old person", "old"),
    "tired": ("wearily", "tired"),
    "active": ("energetically", "active"),
    "musical": ("like in a musical", "theatrical"),
    "giant": ("heavily like a giant", "giant"),
    "chimpira": ("like a thug", "thuggish"),
}
"""Style label -> (adverbial phrase, adjective)."""
TEMPLATES = ("a person {action} {adverb}", "{article} {adjective} person {action}", "someone {action} {adverb}")
"""Caption templates; evaluation reads the first."""


def captions(content: str, style: str) -> list[str]:
    """Every template's caption of a (content, style) pair."""
    if content not in ACTIONS:
        raise ValueError(f"content label {content!r}: expected one of {sorted(ACTIONS)}")
    if style not in STYLES:
        raise ValueError(f"style label {style!r}: expected one of {sorted(STYLES)}")
    adverb, adjective = STYLES[style]
    article = "an" if adjective[0] in "aeiou" else "a"
    return [t.format(action=ACTIONS[content], adverb=adverb, adjective=adjective, article=article) for t in TEMPLATES]


def words(text: str) -> list[str]:
    """Lower-cased words of a caption."""
    return re.findall(r"[a-z]+", text.lower())


class WordVocabulary:
    """Words -> ids; 0 is padding, 1 an unknown word."""

    PAD, UNK = 0, 1

    def __init__(self, known: Iterable[str]) -> None:
        self.words = ["<pad>", "<unk>", *sorted(set(known) - {"<pad>", "<unk>"})]
        self.ids = {word: index for index, word in enumerate(self.words)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordVocabulary:
        return cls(word for text in texts for word in words(text))

    def encode(self, text: str) -> list[int]:
        """Word ids of ``text``; an empty caption is an error."""
        ids = [self.ids.get(word, self.UNK) for word in words(text)]
        if not ids:
            raise ValueError(f"caption {text!r} has no words")
        return ids

    def unknown(self, texts: Sequence[str]) -> list[str]:
        """Words of ``texts`` not in the vocabulary."""
        return sorted({word for text in texts for word in words(text) if word not in self.ids})
