"""The kinds of word LEM masks first, by code: what tagging assigns to each word and the masks read (no torch)."""

OTHER, ENTITY, NOUN, VERB = 0, 1, 2, 3
KINDS = ("other", "entity", "noun", "verb")
"""Unit kinds by code; ``-1`` marks a padding unit."""
