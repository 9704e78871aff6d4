"""Gates decide whether a comparison means anything; a failing one turns every change cell into "not meaningful"."""

from __future__ import annotations

from seqmask.eval.wer import WER
from seqmask.experiment.gates import all_hold, at_most, gates_markdown, lower_by_a_std
from seqmask.experiment.tables import compare_table


def test_a_ceiling_gate_holds_at_or_under_its_limit():
    assert at_most("ref", 9.9, 10.0).holds and at_most("ref", 10.0, 10.0).holds
    assert not at_most("ref", 10.1, 10.0).holds
    assert not at_most("ref", None, 10.0).holds and at_most("ref", None, 10.0).measured == "not measured"


def test_the_baseline_must_win_by_more_than_a_standard_deviation():
    assert lower_by_a_std("random beats none", [24.0, 26.5, 27.0], [28.5, 27.0, 31.5]).holds  # gap 3.2 > std 2.3
    close = lower_by_a_std("random beats none", [27.0, 28.0, 29.0], [28.0, 30.0, 26.0])
    assert not close.holds and "largest std 2.0" in close.measured
    single = lower_by_a_std("random beats none", [25.0], [27.0])
    assert single.holds and "one seed" in single.measured
    assert not lower_by_a_std("random beats none", [], [27.0]).holds


def test_a_failing_gate_makes_the_comparison_not_meaningful():
    gates = [at_most("reference fsdd", 12.0, 10.0), lower_by_a_std("random beats none", [20.0], [30.0])]
    assert not all_hold(gates)
    text = gates_markdown(gates)
    assert "| reference fsdd | 12.0 | **no** |" in text and "**not meaningful**" in text and "reference fsdd)" in text
    runs = [
        {"variant": v, "seed": s, "results": {"all": {"wer": w, "utterances": 5}}}
        for v, s, w in [("random", 0, 0.2), ("random", 1, 0.22), ("ask2mask", 0, 0.18), ("ask2mask", 1, 0.2)]
    ]
    table = compare_table(
        runs, WER, baseline="random", references={"reference fsdd": {"all": {"wer": 0.05}}}, meaningful=False
    )
    assert table.splitlines()[0].endswith("| ask2mask rel. vs random | reference fsdd |")
    assert table.splitlines()[2] == "| all | 5 | 21.0 ± 1.4 (2 seeds) | 19.0 ± 1.4 (2 seeds) | not meaningful | 5.0 |"
    assert "-9.5%" in compare_table(runs, WER, baseline="random")
