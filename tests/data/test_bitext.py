"""Text corpora for the text pipeline: the shipped files read cleanly; bad lines are rejected with file, line,
reason."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys

import pytest

from seqmask.data.bitext import (
    Limits,
    clean,
    pivot,
    read_aligned,
    read_monolingual,
    read_tab_pairs,
    read_tatoeba,
    script_share,
)
from seqmask.data.conllu import read_conllu
from seqmask.paths import PROJECT_ROOT

TEXT = PROJECT_ROOT / "data" / "text"
LIMITS = Limits()
MAX_RSS_INCREASE_MB = 50
"""Peak RSS growth allowed while reading a hostile file: the streamed reader needs a few MB; inflating the file, or
holding its giant line, whole needs gigabytes (the readers before streaming: 3.0 GB and 2.7 GB on the files below)."""
READ_AND_MEASURE = """
import json, resource, sys
from pathlib import Path
from seqmask.data.bitext import Limits, read_monolingual
from seqmask.data.compressed import TooLarge

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux

before = peak_mb()
try:
    limits = Limits(max_inflated_bytes=int(sys.argv[2])) if len(sys.argv) > 2 else Limits()
    kept, rejects = read_monolingual(Path(sys.argv[1]), "eng", limits)
    outcome = {"kept": [text for text, _ in kept], "rejects": [[r.origin, r.reason] for r in rejects]}
except TooLarge as err:
    outcome = {"error": str(err)}
print(json.dumps({**outcome, "rss_increase_mb": peak_mb() - before}))
"""
"""``read_monolingual(FILE, "eng", Limits(max_inflated_bytes=CAP))`` in a fresh process (the default cap without CAP):
what it gave and its peak RSS growth."""


def read_in_fresh_process(path, cap: int | None = None) -> dict:
    args = [str(path)] + ([] if cap is None else [str(cap)])
    done = subprocess.run([sys.executable, "-c", READ_AND_MEASURE, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_shipped_pairs_read_and_pivot() -> None:
    en_si, si_rejects = read_tab_pairs(TEXT / "libreoffice" / "libreoffice_en-si.tsv.gz", "eng", "sin", LIMITS)
    en_ta, ta_rejects = read_tab_pairs(TEXT / "libreoffice" / "libreoffice_en-ta.tsv.gz", "eng", "tam", LIMITS)
    assert len(en_si) + len(si_rejects) == 2213 and len(en_ta) + len(ta_rejects) == 4072  # every line accounted for
    assert len(en_si) > 2000 and len(en_ta) > 3800
    si_ta = pivot(en_si, en_ta)
    assert len(si_ta) > 500 and all(
        script_share(p.source, "sin") >= 0.5 and script_share(p.target, "tam") >= 0.5 for p in si_ta
    )
    tam, _ = read_tatoeba(TEXT / "tatoeba", "tam", LIMITS)
    assert 250 < len(tam) <= 307 and tam[0].source_language == "tam" and tam[0].target_language == "eng"


def test_different_line_counts_name_both_files_and_counts(tmp_path) -> None:
    (tmp_path / "a.en").write_text("one line here\ntwo lines here\n")
    (tmp_path / "a.si").write_text("එක පේළියක්\n")
    with pytest.raises(ValueError, match=r"a\.en has 2 lines but .*a\.si has 1"):
        read_aligned(tmp_path / "a.en", tmp_path / "a.si", "eng", "sin", LIMITS)


def test_bad_lines_are_rejected_with_their_line_numbers_and_reasons(tmp_path) -> None:
    english = [
        "Open the file please",
        "",
        "Save the document now",
        "Close all the windows",
        "Open the file please",
        "ok",
    ]
    sinhala = ["ගොනුව විවෘත කරන්න", "හිස්", "ලේඛනය සුරකින්න", "Close all the windows", "ගොනුව විවෘත කරන්න", "හරි"]
    (tmp_path / "a.en").write_bytes("\n".join(english).encode() + b"\n")
    (tmp_path / "a.si").write_bytes(
        "\n".join(sinhala[:2]).encode() + b"\n\xff\xfe bad\n" + "\n".join(sinhala[3:]).encode() + b"\n"
    )
    pairs, rejects = read_aligned(tmp_path / "a.en", tmp_path / "a.si", "eng", "sin", LIMITS)
    assert [p.origin.rsplit(":", 1)[1] for p in pairs] == ["1"]
    found = {(r.origin.rsplit(":", 1)[1], r.reason) for r in rejects}
    assert found == {("3", "bad_utf8"), ("2", "empty"), ("4", "wrong_script"), ("5", "duplicate"), ("6", "too_short")}
    assert any(r.origin.startswith(str(tmp_path / "a.si")) and "0xff" in r.detail for r in rejects)


def test_cleaning_composes_and_collapses_whitespace() -> None:
    assert clean("  e\u0301te\t ok ") == "\u00e9te ok"


def test_pivot_leaves_out_english_with_two_translations() -> None:
    from seqmask.data.bitext import Pair

    en_si = [
        Pair("eng", "sin", "Open the file", "si-1", "a:1"),
        Pair("eng", "sin", "Save it now", "si-2", "a:2"),
        Pair("eng", "sin", "Save it now", "si-3", "a:3"),
    ]
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


def test_a_gzip_bomb_is_refused_without_being_inflated(tmp_path) -> None:
    bomb = tmp_path / "bomb.eng.gz"
    with gzip.open(bomb, "wb") as out:  # 256 MiB of text in about 600 KB
        for _ in range(256):
            out.write(b"the same short sentence again\n" * 32768)
    outcome = read_in_fresh_process(bomb, cap=1 << 20)
    assert outcome["error"] == f"{bomb}: expected at most 1048576 bytes of text (the size cap), found more"
    assert outcome["rss_increase_mb"] < MAX_RSS_INCREASE_MB


def test_a_giant_line_is_rejected_without_being_held_whole(tmp_path) -> None:
    path = tmp_path / "giant.eng"
    with open(path, "wb") as out:
        out.write(b"A first sentence.\n")
        for _ in range(100):  # one line of 100 MiB of short words
            out.write(b"ab " * 349525 + b"a")
        out.write(b"\nA last sentence.\n")
    outcome = read_in_fresh_process(path)
    assert outcome["kept"] == ["A first sentence.", "A last sentence."]
    assert outcome["rejects"] == [[f"{path}:2", "too_long"]]
    assert outcome["rss_increase_mb"] < MAX_RSS_INCREASE_MB


def test_lengths_are_checked_as_read_before_cleaning(tmp_path) -> None:
    limits = Limits(min_chars=1, max_chars=10)
    path = tmp_path / "m.eng"
    path.write_text("ten chars!\neleven char\ntwo  spaces\n" + "x" * 42 + "\n", encoding="utf-8")
    kept, rejects = read_monolingual(path, "eng", limits)
    assert [text for text, _ in kept] == ["ten chars!"]
    assert [(r.origin.rsplit(":", 1)[1], r.reason, r.detail) for r in rejects] == [
        ("2", "too_long", "eng: 11 characters as read > 10"),
        ("3", "too_long", "eng: 11 characters as read > 10"),  # not measured after collapsing its spaces
        (
            "4",
            "too_long",
            "more than 41 bytes, so more than the 10 characters a line may hold (max_chars = 10): skipped unread",
        ),
    ]
    pairs = tmp_path / "p.tsv"
    pairs.write_text("Open it\tOuvre-le\nOpen the window\tOuvre\n", encoding="utf-8")
    kept_pairs, pair_rejects = read_tab_pairs(pairs, "eng", "fra", limits)
    assert [(p.source, p.target) for p in kept_pairs] == [("Open it", "Ouvre-le")]
    assert [(r.origin, r.reason) for r in pair_rejects] == [(f"{pairs}:2", "too_long")]


def test_a_bom_is_dropped_and_control_characters_are_bad_text(tmp_path) -> None:
    mono = tmp_path / "m.eng"
    mono.write_bytes(
        "\ufeffThe first line\nA NUL \x00 inside\nA form\x0cfeed\nA stray\rreturn\nA tab\tis space\r\n".encode()
    )
    kept, rejects = read_monolingual(mono, "eng", LIMITS)
    assert [text for text, _ in kept] == ["The first line", "A tab is space"]
    assert [(r.origin, r.reason, r.detail) for r in rejects] == [
        (f"{mono}:2", "bad_text", "control character U+0000 at column 7"),
        (f"{mono}:3", "bad_text", "control character U+000C at column 7"),
        (f"{mono}:4", "bad_text", "control character U+000D at column 8"),
    ]
    tab_pairs = tmp_path / "p.tsv.gz"
    tab_pairs.write_bytes(gzip.compress("\ufeffOpen the file\tOuvrir le fichier\n".encode()))
    assert [(p.source, p.target) for p in read_tab_pairs(tab_pairs, "eng", "fra", LIMITS)[0]] == [
        ("Open the file", "Ouvrir le fichier")
    ]
    (tmp_path / "a.eng").write_text("Save the file\nClose the file\n", encoding="utf-8")
    (tmp_path / "a.fra").write_bytes("\ufeffEnregistrer le fichier\nFermer le\x00 fichier\n".encode())
    pairs, rejects = read_aligned(tmp_path / "a.eng", tmp_path / "a.fra", "eng", "fra", LIMITS)
    assert [p.target for p in pairs] == ["Enregistrer le fichier"]
    assert [(r.origin, r.reason) for r in rejects] == [(f"{tmp_path / 'a.fra'}:2", "bad_text")]


def test_a_corrupt_gzip_file_is_named(tmp_path) -> None:
    path = tmp_path / "m.eng.gz"
    path.write_bytes(gzip.compress(b"A sentence.\n" * 100)[:-20])
    with pytest.raises(
        ValueError,
        match=(
            rf"^{re.escape(str(path))}: expected gzip-compressed text \(the name ends in \.gz\),"
            r" found a stream that cannot be read"
        ),
    ):
        read_monolingual(path, "eng", LIMITS)
