"""Every bench runs end to end: ``bench/X.py --quick`` (one tiny round at tiny sizes) exits 0 and prints its table.

No timing is asserted (quick numbers mean nothing, and the machine is shared): only the exit status and the presence
of each bench's table rows. ``bench/_common.py``, which every bench uses for ``--quick``, the rotating order of the
sides and the paired median ratios, is tested directly below.

The quick set takes about 4 minutes on 2 busy cores, half of it ``bench/ops_load.py`` (a Prefect server, ``seqmask
deploy``, a process worker, its warm-up flow run computing speech-prep at preset tiny, then 2 flow runs): that test is
marked ``slow`` (``pytest -m "not slow"`` leaves it out).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TIMEOUT_S = 600
"""Per bench: generous, the machine is shared (the slowest quick run takes about 2 min)."""

SLOW = pytest.mark.slow

VALUE = r"\S+"
"""A printed number, never checked (timings under load mean nothing)."""

EXPECTED: dict[str, list[str]] = {
    "cached_rerun.py": [
        r"^\| preset \| Prefect API start-up \| cold run \| cached rerun \| rerun / cold \|$",
        rf"^\| tiny \| {VALUE} s \| {VALUE} s \| {VALUE} s \| {VALUE}% \|$",
    ],
    "dask_cluster.py": [
        r"^\| workers \| seconds \| records/s \| ratio vs 1 worker \|$",
        rf"^\| 1 \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
        rf"^\| 2 \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
    ],
    "lem_masking.py": [
        rf"^\| plain MLM \(sub-token units\) \| {VALUE} \| 1\.000 \|$",
        rf"^\| LEM \(word units, entity/noun/verb first\) \| {VALUE} \| {VALUE} \|$",
    ],
    "mask_placement.py": [
        r"^\| frames \| masked share \| blank share \|$",
        rf"^\| masked by random \| {VALUE} \| {VALUE} \|$",
        *(rf"^\| masked by ask2mask \({c}\) \| {VALUE} \| {VALUE} \|$" for c in ("max", "nonblank", "speech")),
    ],
    "masking_step.py": [
        rf"^\| StandardWav2Vec2Masker \(random\) \| {VALUE} \| 1\.000 \|$",
        rf"^\| Ask2MaskMasker \+ utterance weights \| {VALUE} \| {VALUE} \|$",
        rf"^scoring \(\S+ CTC scorer of preset small\): {VALUE} s of audio per second$",
    ],
    "mining.py": [
        *(
            rf"^\| 2000 \| {b} \| {VALUE} \| {VALUE} \| {VALUE} \| {VALUE} \| {VALUE} \|$"
            for b in ("torch dense", "torch chunked", "faiss")
        ),
        r"^xSIM error identical across backends at every N",
    ],
    "motion_speed.py": [
        rf"^\| none \| {VALUE} \| 1\.000 \|$",
        rf"^\| time \(.*\) \| {VALUE} \| {VALUE} \|$",
        rf"^\| body \(.*\) \| {VALUE} \| {VALUE} \|$",
        r"^sampling \(DDIM against DDPM\): skipped \(--quick\)$",
    ],
    "ops_load.py": [
        r"^\| runs asked \| concurrency \| database \|",
        r"^\| 2 \| 2 \| SQLite \| .* \|$",
        rf"^\| worker \+ flow runs \| {VALUE} \| {VALUE} \|$",
    ],
    "prep_throughput.py": [
        rf"^\| plain loop \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
        rf"^\| dask, 1 worker \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
        rf"^\| dask, 2 workers \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
    ],
    "tag_scaling.py": [
        r"^\| Dask workers \| seconds \| sentences/s \| speed-up vs 1 worker \|$",
        rf"^\| 1 \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
        rf"^\| 2 \| {VALUE} \| {VALUE} \| {VALUE}x \|$",
    ],
}
"""Per bench: the lines (regular expressions) its quick run must print."""

HEAVY = {"ops_load.py"}
"""Benches whose quick mode cannot be made to take under about a minute here."""


def benches() -> list[str]:
    return sorted(path.name for path in BENCH.glob("*.py") if not path.name.startswith("_"))


def test_every_bench_is_checked() -> None:
    assert benches() == sorted(EXPECTED), "every bench/*.py needs its expected quick output here"


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=SLOW) if name in HEAVY else name for name in sorted(EXPECTED)]
)
def test_quick_mode_prints_its_table(name: str, tmp_path: Path) -> None:
    env = {
        key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"
    }  # no test API leaks into a bench
    env |= {"SEQMASK_HOME": str(tmp_path / "store"), "PREFECT_HOME": str(tmp_path / "prefect")}
    done = subprocess.run(
        [sys.executable, str(BENCH / name), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    output = f"--- stdout:\n{done.stdout[-4000:]}\n--- stderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, f"bench/{name} --quick exited {done.returncode}\n{output}"
    missing = [pattern for pattern in EXPECTED[name] if not re.search(pattern, done.stdout, re.MULTILINE)]
    assert not missing, f"bench/{name} --quick did not print lines matching {missing}\n{output}"


# --- bench/_common.py -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_order_of_the_sides_rotates_every_round(common) -> None:
    assert [common.rotated(["a", "b"], r) for r in range(4)] == [["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]]
    assert [common.rotated(["a", "b", "c"], r) for r in range(3)] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


def test_run_rounds_measures_each_side_once_a_round_in_rotated_order(common) -> None:
    calls = []

    def side(name: str):
        return lambda: calls.append(name) or float(len(calls))

    values = common.run_rounds({"a": side("a"), "b": side("b"), "c": side("c")}, 3)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert values == {"a": [1.0, 6.0, 8.0], "b": [2.0, 4.0, 9.0], "c": [3.0, 5.0, 7.0]}


def test_median_ratio_pairs_rounds(common) -> None:
    # a load spike in round 2 slows both sides; paired per round, the ratio stays 2 (a ratio of medians would not)
    assert common.median_ratio([2.0, 20.0, 4.0], [1.0, 10.0, 2.0]) == 2.0
    assert common.median_ratio([3.0, 1.0], [1.0, 1.0]) == 2.0
    with pytest.raises(ValueError, match="equal"):
        common.median_ratio([1.0], [1.0, 2.0])


def test_quick_values_apply_only_to_options_left_at_their_default(common) -> None:
    parser = common.bench_parser("A bench.\n\nMore.")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    quick = {"rounds": 1, "steps": 2}
    assert vars(common.parse_args(parser, quick, [])) == {"quick": False, "rounds": 7, "steps": 20}
    assert vars(common.parse_args(parser, quick, ["--quick"])) == {"quick": True, "rounds": 1, "steps": 2}
    assert vars(common.parse_args(parser, quick, ["--quick", "--steps", "5"])) == {
        "quick": True,
        "rounds": 1,
        "steps": 5,
    }
    with pytest.raises(KeyError, match="no such option"):
        common.parse_args(parser, {"repeats": 1}, ["--quick"])
