"""The flow registry's study plan: a malformed plan file is an error naming the file, line and column, not a
traceback."""

from __future__ import annotations

import re

import pytest

from seqmask.cli import main


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "points:\n  paper: {}\n  weak: {speech.scorer.train.steps: 300\n",
            r"not valid YAML: line 4, column 1: expected ',' or '}', but got '<stream end>' "
            r"\(while parsing a flow mapping at line 3, column 9\)",
        ),
        (
            "points:\n  paper: {}\n bad: 1\n",
            r"not valid YAML: line 3, column 2: expected <block end>, but found '<block mapping start>'",
        ),
        (
            "points: {paper: {}}\nseeds: [0, 1]\n\tsplit: valid\n",
            r"not valid YAML: line 3, column 1: found character '\\t' that cannot start",
        ),
        (
            "- paper\n- weak\n",
            r"expected a mapping with keys \('seeds', 'variants', 'split', 'points'\), found list \['paper', 'weak'\]",
        ),
        ("just words\n", "expected a mapping with keys .*, found str 'just words'"),
    ],
)
def test_a_malformed_study_plan_names_the_file_line_and_column(tmp_path, capsys, text, message) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    assert main(["run", "speech-study", "--preset", "tiny", "--plan", str(plan), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"seqmask: error: study plan {plan}: ") and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line: no traceback, no YAML excerpt
    assert re.search(message, err), err


def test_a_study_plan_that_is_not_utf8_is_named(tmp_path, capsys) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"points: {caf\xe9: {}}\n")
    assert main(["run", "speech-study", "--preset", "tiny", "--plan", str(plan), "--dry-run"]) == 2
    assert f"study plan {plan}: expected UTF-8 text" in capsys.readouterr().err


def test_a_missing_study_plan_is_named(tmp_path, capsys) -> None:
    assert main(["run", "speech-study", "--preset", "tiny", "--plan", str(tmp_path / "nope.yaml"), "--dry-run"]) == 2
    assert f"study plan {tmp_path / 'nope.yaml'}: no such file" in capsys.readouterr().err
