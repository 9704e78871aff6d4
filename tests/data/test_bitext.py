"""Text corpora for the text pipeline: the shipped files read cleanly; bad lines are rejected with file, line, reason."""

from __future__ import annotations

import gzip

import pytest

from seqmask.data.bitext import Limits, clean, pivot, read_aligned, read_tab_pairs, read_tatoeba, script_share
from seqmask.data.conllu import read_conllu
from seqmask.paths import PROJECT_ROOT

TEXT = PROJECT_ROOT / "data" / "text"
LIMITS = Limits()


def test_the_shipped_pairs_read_and_pivot() -> None:
    en_si, si_rejects = read_tab_pairs(TEXT / "libreoffice" / "libreoffice_en-si.tsv.gz", "eng", "sin", LIMITS)
    en_ta, ta_rejects = read_tab_pairs(TEXT / "libreoffice" / "libreoffice_en-ta.tsv.gz", "eng", "tam", LIMITS)
    assert len(en_si) + len(si_rejects) == 2213 and len(en_ta) + len(ta_rejects) == 4072  # every line accounted for
    assert len(en_si) > 2000 and len(en_ta) > 3800
    si_ta = pivot(en_si, en_ta)
    assert len(si_ta) > 500 and all(script_share(p.source, "sin") >= 0.5 and script_share(p.target, "tam") >= 0.5 for p in si_ta)
    tam, _ = read_tatoeba(TEXT / "tatoeba", "tam", LIMITS)
    assert 250 < len(tam) <= 307 and tam[0].source_language == "tam" and tam[0].target_language == "eng"


def test_different_line_counts_name_both_files_and_counts(tmp_path) -> None:
    (tmp_path / "a.en").write_text("one line here\ntwo lines here\n")
    (tmp_path / "a.si").write_text("එක පේළියක්\n")
    with pytest.raises(ValueError, match=r"a\.en has 2 lines but .*a\.si has 1"):
        read_aligned(tmp_path / "a.en", tmp_path / "a.si", "eng", "sin", LIMITS)


def test_bad_lines_are_rejected_with_their_line_numbers_and_reasons(tmp_path) -> None:
    english = ["Open the file please", "", "Save the document now", "Close all the windows", "Open the file please", "ok"]
    sinhala = ["ගොනුව විවෘත කරන්න", "හිස්", "ලේඛනය සුරකින්න", "Close all the windows", "ගොනුව විවෘත කරන්න", "හරි"]
    (tmp_path / "a.en").write_bytes("\n".join(english).encode() + b"\n")
    (tmp_path / "a.si").write_bytes("\n".join(sinhala[:2]).encode() + b"\n\xff\xfe bad\n" + "\n".join(sinhala[3:]).encode() + b"\n")
    pairs, rejects = read_aligned(tmp_path / "a.en", tmp_path / "a.si", "eng", "sin", LIMITS)
    assert [p.origin.rsplit(":", 1)[1] for p in pairs] == ["1"]
    found = {(r.origin.rsplit(":", 1)[1], r.reason) for r in rejects}
    assert found == {("3", "bad_utf8"), ("2", "empty"), ("4", "wrong_script"), ("5", "duplicate"), ("6", "too_short")}
    assert any(r.origin.startswith(str(tmp_path / "a.si")) and "0xff" in r.detail for r in rejects)


def test_cleaning_composes_and_collapses_whitespace() -> None:
    assert clean("  e\u0301te\t ok ") == "\u00e9te ok"


def test_pivot_leaves_out_english_with_two_translations() -> None:
    from seqmask.data.bitext import Pair

    en_si = [Pair("eng", "sin", "Open the file", "si-1", "a:1"), Pair("eng", "sin", "Save it now", "si-2", "a:2"),
             Pair("eng", "sin", "Save it now", "si-3", "a:3")]
    en_ta = [Pair("eng", "tam", "Open the file", "ta-1", "b:1"), Pair("eng", "tam", "Save it now", "ta-2", "b:2")]
    assert [(p.source, p.target) for p in pivot(en_si, en_ta)] == [("si-1", "ta-1")]


def test_treebanks_read_with_gold_tags(tmp_path) -> None:
    sinhala = read_conllu(TEXT / "ud" / "UD_Sinhala-STB" / "si_stb-ud-test.conllu.gz")
    tamil = read_conllu(TEXT / "ud" / "UD_Tamil-MWTT" / "ta_mwtt-ud-test.conllu.gz")
    assert len(sinhala) == 100 and len(tamil) == 534
    assert all(len(s.words) == len(s.tags) > 0 for s in (*sinhala, *tamil))
    assert {"NOUN", "VERB", "PROPN"} <= {tag for s in tamil for tag in s.tags}
    broken = tmp_path / "bad.conllu.gz"
    broken.write_bytes(gzip.compress(b"# text = a\n1\ta\tA\n\n"))
    with pytest.raises(ValueError, match=r"bad\.conllu\.gz:2: expected 10"):
        read_conllu(broken)
