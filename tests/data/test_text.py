"""Text normalisation: transcripts for units and error rates, and the sentence key that splits and dedupes."""

from __future__ import annotations

from seqmask.data.text import normalize_text, sentence_key


def test_normalize_text_keeps_letters_marks_digits_and_apostrophes():
    assert normalize_text("  Tom’s  HERE, 3 times!") == "tom's here 3 times"
    assert normalize_text("நன்றி!") == "நன்றி"  # Tamil letters keep their combining vowel signs


def test_sentence_key_folds_case_and_drops_apostrophes():
    assert sentence_key("Tom's here!") == "tom s here"
    assert sentence_key("Badstraße") == sentence_key("BADSTRASSE") == "badstrasse"
