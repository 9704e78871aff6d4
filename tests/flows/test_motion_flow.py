"""The motion flows (MMDM: none / time / body masks) on a real Prefect API and Dask cluster, tiny preset."""

from __future__ import annotations

import json
import os
import sys

import pytest

from seqmask.app.root import load_experiment
from seqmask.cli import main
from seqmask.config import to_dict
from seqmask.experiment.comparison import REPORT
from seqmask.files import read_build_record
from seqmask.motion.artifacts import BVH, FID_BY_RATIO, GIF, METRICS, RENDERS, SUMMARY, TRAINING_LOG, render_file
from seqmask.motion.bvh import read_bvh
from seqmask.runlog import latest_runs
from seqmask.store import ArtifactStore

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(flow_name, dask_address, *overrides):
    import flows.motion

    config = load_experiment("tiny", [f"orchestration.dask_address={dask_address}", *overrides])
    return getattr(flows.motion, flow_name)(config=to_dict(config))


def states(home):
    [record] = latest_runs(home / "runs", 1)
    return {name: stage["state"] for name, stage in record["stages"].items()}


def artifact(result, stage):
    return ArtifactStore().ref(result[stage]["key"]).path


@pytest.fixture(scope="module")
def motion_run(store_home, dask_address, prefect_api):
    return run("motion", dask_address)


def test_motion_flow_trains_evaluates_and_renders_every_mask(motion_run, store_home) -> None:
    assert set(states(store_home).values()) == {"computed"}
    prep = json.loads((artifact(motion_run, "motion-prep") / SUMMARY).read_text())
    assert prep["splits"]["test"]["clips"] == 12 and prep["splits"]["valid"]["clips"] == 8
    assert prep["rejects"] == {"too_short": 2}  # two Bandai clips are under a second
    report = (artifact(motion_run, "motion-report") / REPORT).read_text()
    assert "| group | windows | none | time | time rel. vs none | body | body rel. vs none |" in report
    assert "**not meaningful**" in report  # tiny learns nothing: its gates fail and say so
    for mask in ("none", "time", "body"):
        metrics = json.loads((artifact(motion_run, f"motion-evaluate-{mask}-s0") / METRICS).read_text())
        scored = metrics["test"]["all"]
        assert (
            scored["fid_low"] <= scored["fid_high"]
            and scored["fid"] >= 0
            and scored["windows"] == prep["splits"]["test"]["windows"]
        )
        assert len(scored["r_precision"]) == 3 and scored["r_precision"] == sorted(scored["r_precision"])
        assert scored["multimodality"] >= 0 and "unseen pair" in metrics["test"]
        summary = json.loads((artifact(motion_run, f"motion-train-{mask}-s0") / SUMMARY).read_text())
        assert summary["steps"] == 4 and summary["mask"] == mask
        render = artifact(motion_run, f"motion-render-{mask}-s0")
        assert (render / render_file(0, GIF)).stat().st_size > 0
        assert read_bvh(render / render_file(0, BVH)).frame_count == 60
        assert f"{RENDERS}/{mask}-s0/{render_file(0, GIF)}" in report
    assert (artifact(motion_run, "motion-report") / FID_BY_RATIO).is_file()


def test_motion_rerun_reuses_every_stage(motion_run, store_home, dask_address) -> None:
    assert run("motion", dask_address) == motion_run
    assert set(states(store_home).values()) == {"reused"}


def test_a_fresh_store_gives_every_stage_the_same_key_and_digest(
    motion_run, dask_address, tmp_path, monkeypatch
) -> None:
    """Artifacts hold what was made, not how long it took (timings are in lineage): a second store, elsewhere, built
    from scratch, publishes byte-identical artifacts, so every key downstream matches too."""
    monkeypatch.setenv("SEQMASK_HOME", str(tmp_path / "fresh"))
    again = run("motion", dask_address)
    assert {stage: (ref["key"], ref["digest"]) for stage, ref in again.items()} == {
        stage: (ref["key"], ref["digest"]) for stage, ref in motion_run.items()
    }


def test_compare_reuses_seed_0_and_adds_seeds_and_ratios(motion_run, store_home, dask_address) -> None:
    result = run("motion_compare", dask_address)
    found = states(store_home)
    assert found["motion-train-none-s0"] == found["motion-evaluator"] == "reused"
    assert found["motion-train-time-s1"] == found["motion-train-body-0-5-s0"] == "computed"
    assert "motion-train-body-0-5-s1" not in found  # the ratio study runs the first seed only
    report = (artifact(result, "motion-report") / REPORT).read_text()
    assert (
        "(2 seeds)" in report and "time@0.5" not in report.split("## FID on valid")[0]
    )  # test tables hold the default ratios only


def test_seqmask_generate_writes_a_bvh_and_a_gif(motion_run, tmp_path, capsys) -> None:
    key = motion_run["motion-train-body-s0"]["key"][:12]
    assert (
        main(
            [
                "generate",
                "--model",
                key,
                "--text",
                "a person bows angrily",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "bow"),
            ]
        )
        == 0
    )
    assert read_bvh(tmp_path / "bow.bvh").frame_count == 60 and (tmp_path / "bow.gif").stat().st_size > 0
    assert main(["generate", "--model", key, "--text", " ", "--out", str(tmp_path / "x")]) == 2
    assert "--text: expected a caption, found an empty one" in capsys.readouterr().err
    assert main(["generate", "--model", "ffffffffffff", "--text", "a person bows"]) == 2
    assert "no artifact key" in capsys.readouterr().err


def test_kill_during_training_resumes_to_the_same_step(tmp_path, prefect_api, motion_run, kill_then_rerun) -> None:
    home = tmp_path / "store"
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    cmd = [
        sys.executable,
        "-m",
        "seqmask.cli",
        "run",
        "motion",
        "--preset",
        "tiny",
        "--set",
        "motion.comparison.variants=[none]",
        "--set",
        "motion.diffusion.train.steps=400",
        "--set",
        "motion.diffusion.train.checkpoint_every=5",
    ]
    kill_then_rerun(cmd, env, lambda: _denoiser_checkpoint(home))
    [record] = latest_runs(home / "runs", 1)
    train = ArtifactStore(home).ref(record["stages"]["motion-train-none-s0"]["key"]).path
    summary = json.loads((train / SUMMARY).read_text())
    assert summary["steps"] == 400 and 5 <= read_build_record(train)["resumed_from_step"] < 400
    steps = [json.loads(line)["step"] for line in (train / TRAINING_LOG).read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 400


def _denoiser_checkpoint(home):
    """The denoiser's ``last.pt`` once it trains alone (both encoders published, so theirs are gone), else None."""
    found = latest_runs(home / "runs", 1) if (home / "runs").is_dir() else []
    stages = found[0]["stages"] if found else {}
    encoders_done = all(
        stages.get(name, {}).get("state") == "computed" for name in ("motion-text-encoder", "motion-evaluator")
    )
    if not encoders_done or stages.get("motion-train-none-s0", {}).get("state") != "running":
        return None
    return next(iter((home / "scratch").glob("*/last.pt")), None)
