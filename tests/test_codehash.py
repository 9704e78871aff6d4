"""A stage's code hash covers exactly the project modules its builder's module reaches through imports."""

from __future__ import annotations

import sys

import pytest

from seqmask import codehash
from seqmask.codehash import code_hash, import_closure


def _forget() -> None:
    for cached in (codehash._source, codehash._source_digest, codehash._project_imports, codehash._module_path):
        cached.cache_clear()


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A throw-away project package: ``a`` imports ``b`` inside a function, ``b`` imports ``c`` only for type
    checking."""
    package = tmp_path / "keyprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def build(ctx):\n    from keyprobe import b\n    return b.VALUE\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nVALUE = 1\nif TYPE_CHECKING:\n    from keyprobe import c\n"
    )
    (package / "c.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(codehash, "PROJECT_PACKAGES", ("keyprobe",))
    _forget()
    yield package
    _forget()
    sys.modules.pop("keyprobe", None)


def test_lazy_imports_count_and_type_checking_ones_do_not(probe):
    assert import_closure("keyprobe.a") == ("keyprobe", "keyprobe.a", "keyprobe.b")


def test_editing_a_reached_module_changes_the_hash_and_an_unreached_one_does_not(probe):
    before = code_hash("keyprobe.a")
    (probe / "c.py").write_text("X = 2\n")
    _forget()
    assert code_hash("keyprobe.a") == before
    (probe / "b.py").write_text((probe / "b.py").read_text() + "# edited\n")
    _forget()
    assert code_hash("keyprobe.a") != before


def test_sources_are_read_once_per_process(probe):
    before = code_hash("keyprobe.a")
    (probe / "b.py").write_text("VALUE = 2\n")
    assert code_hash("keyprobe.a") == before  # a file edited during a run does not re-key what the run already uses


def test_speech_stage_closures_stay_tight():
    features = import_closure("seqmask.speech.stages.features")
    report = import_closure("seqmask.speech.stages.report")
    assert "seqmask.eval.report" in report and "seqmask.eval.report" not in features
    assert not any(name.startswith(("seqmask.masking", "seqmask.experiment", "seqmask.training")) for name in features)
    fsdd = import_closure("seqmask.speech.stages.fsdd")
    assert "seqmask.data.fsdd" in fsdd and not {
        "seqmask.data.user",
        "seqmask.data.espeak",
        "seqmask.speech.features",
    } & set(fsdd)
    scores = import_closure("seqmask.speech.stages.scores")
    assert "seqmask.masking.ask2mask" in scores  # the frame confidence is computed there
    for module in (features, report, fsdd, scores):
        assert "seqmask.stage" not in module and "seqmask.config" not in module  # imported for type checking only


def test_parsing_retries_cpython_311s_shared_ast_depth_counter_only(monkeypatch, tmp_path):
    """CPython 3.11 raises this SystemError when another thread builds an AST at the same moment: parse again."""
    import ast

    from seqmask import codehash

    real_parse, failures = ast.parse, []

    def flaky(source, filename):
        if len(failures) < 2:
            failures.append(filename)
            raise SystemError("AST constructor recursion depth mismatch (before=54, after=76)")
        return real_parse(source, filename=filename)

    monkeypatch.setattr(codehash.ast, "parse", flaky)
    tree = codehash._parse(b"import os\n", tmp_path / "m.py")
    assert failures == [str(tmp_path / "m.py")] * 2 and isinstance(tree.body[0], ast.Import)
    monkeypatch.setattr(
        codehash.ast, "parse", lambda source, filename: (_ for _ in ()).throw(SystemError("something else"))
    )
    with pytest.raises(SystemError, match="something else"):
        codehash._parse(b"x = 1\n", tmp_path / "m.py")
