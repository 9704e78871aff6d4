"""The ``taggers`` stage trains each tagger in a fresh process, so a rebuilt artifact holds the same tagger."""

from __future__ import annotations

import pytest

from seqmask.paths import resolve_path
from seqmask.text.config import TagConfig, TaggerSource
from seqmask.text.stages.taggers import _prepare, _source


def test_a_tagger_trained_twice_is_the_same_tagger(tmp_path) -> None:
    treebank = str(resolve_path("data/text/ud/UD_Tamil-MWTT"))
    first, second = (_prepare(("tam", "treebank", treebank, str(tmp_path / name), 30, 0.1)) for name in ("a", "b"))
    assert first["heldout_upos_accuracy"] == second["heldout_upos_accuracy"] > first["majority_baseline_accuracy"]
    weights = [(tmp_path / name / "model" / "tagger" / "model").read_bytes() for name in ("a", "b")]
    assert weights[0] == weights[1]


def test_a_language_with_neither_pipeline_nor_treebank_names_both_fixes() -> None:
    config = TagConfig(taggers=(TaggerSource(language="eng", treebank="data/text/ud/UD_English-EWT"),))
    assert _source(config, "eng") == ("treebank", str(resolve_path("data/text/ud/UD_English-EWT")))
    with pytest.raises(ValueError, match=r"language 'fra'.*\{language: fra, pipeline: NAME_OR_DIR\}.*\{language: fra, treebank: PATH\}"):
        _source(config, "fra")
