"""The speech and compare flows (Ask2Mask) on a real Prefect API and Dask cluster, tiny preset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from seqmask.cli import main
from seqmask.config import ConfigError, resolve_path
from seqmask.runlog import latest_runs
from seqmask.speech.model import build_pretrain_model, save_checkpoint
from seqmask.store import ArtifactStore

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(flow_name, dask_address, *overrides, from_stage=None):
    import flows.speech

    flow_fn = getattr(flows.speech, flow_name)
    return flow_fn(preset="tiny", overrides=[f"orchestration.dask_address={dask_address}", *overrides], from_stage=from_stage)


def states(home):
    [record] = latest_runs(home / "runs", 1)
    return {name: stage["state"] for name, stage in record["stages"].items()}


@pytest.fixture(scope="module")
def speech_run(store_home, dask_address, prefect_api):
    return run("speech", dask_address)


def test_speech_flow_reports_wer_per_test_set(speech_run, store_home):
    store = ArtifactStore()
    assert set(states(store_home).values()) == {"computed"}
    for variant in ("random-s0", "ask2mask-utt-s0"):
        evaluation = store.ref(speech_run[f"evaluate-{variant}"]["key"]).path
        results = json.loads((evaluation / "wer.json").read_text())
        assert {"test_matched/fsdd", "test_mismatched/fsdd", "test_mismatched/ljspeech", "valid", "valid/fsdd", "all"} <= set(results)
        assert all(0 <= r["wer"] for r in results.values())
        hyps = [json.loads(line) for line in (evaluation / "hypotheses.jsonl").read_text().splitlines()]
        assert len(hyps) == results["all"]["utterances"] + results["valid"]["utterances"]  # "all" pools the test sets only
    report = store.ref(speech_run["report"]["key"]).path
    table = (report / "report.md").read_text()
    assert "| test_mismatched/fsdd |" in table and "ask2mask+utt" in table and "random" in table
    assert (report / "masks.png").stat().st_size > 10_000 and (report / "pretrain_loss.png").stat().st_size > 10_000
    scores = store.ref(speech_run["scores"]["key"]).path
    assert json.loads((scores / "summary.json").read_text())["mean_confidence_fsdd"] > 0


def test_wer_table_reaches_prefect(speech_run):
    import asyncio

    from prefect import get_client

    async def read():
        async with get_client() as client:
            return await client.read_artifacts()

    tables = [a for a in asyncio.run(read()) if a.key == "speech-wer"]
    assert tables and "test_mismatched/fsdd" in str(tables[0].data)


def test_speech_rerun_reuses_every_stage(speech_run, store_home, dask_address):
    assert run("speech", dask_address) == speech_run
    assert set(states(store_home).values()) == {"reused"}


def test_cli_eval_and_transcribe(speech_run, tmp_path, capsys):
    files = sorted(resolve_path("data/speech/fsdd").glob("*_theo_1.flac"))[:3]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": f.stem, "audio": str(f), "text": "x"}) + "\n" for f in files))
    key = speech_run["finetune-random-s0"]["key"][:10]
    assert main(["eval", "--model", key, "--manifest", str(manifest), "--hypotheses", str(tmp_path / "h.tsv")]) == 0
    assert "| all | 3 |" in capsys.readouterr().out
    assert len((tmp_path / "h.tsv").read_text().splitlines()) == 3
    assert main(["transcribe", "--model", key, str(files[0])]) == 0
    assert str(files[0]) in capsys.readouterr().out
    assert main(["eval", "--model", "nonexistent-model", "--manifest", str(manifest)]) == 2


def test_compare_gives_mean_and_std_over_seeds(store_home, dask_address):
    result = run("compare", dask_address, "speech.compare_variants=[none, random, ask2mask+utt]", "speech.seeds=[0, 1]")
    report = ArtifactStore().ref(result["report"]["key"]).path
    table = (report / "report.md").read_text()
    assert "±" in table and "rel. vs random" in table and "none" in table
    assert len(json.loads((report / "runs.json").read_text())) == 6
    assert states(store_home)["pretrain-random-s0"] == "reused"  # shared with the speech flow's run


def test_sentencepiece_units_fine_tune_and_evaluate(store_home, dask_address, speech_run):
    result = run("speech", dask_address, "speech.finetune.units=sentencepiece", "speech.variants=[random]")
    store = ArtifactStore()
    assert result["pretrain-random-s0"] == speech_run["pretrain-random-s0"]  # units only change fine-tuning
    vocab = store.lineage(result["finetune-random-s0"]["key"])["config"]["finetune"]["units"]
    results = json.loads((store.ref(result["evaluate-random-s0"]["key"]).path / "wer.json").read_text())
    assert vocab == "sentencepiece" and results["all"]["utterances"] > 0 and results["all"]["cer"] >= 0


def test_continue_pretraining_from_a_local_checkpoint(store_home, dask_address, tmp_path, speech_run):
    checkpoint = tmp_path / "w2v.pt"
    save_checkpoint(checkpoint, build_pretrain_model("tiny"), kind="wav2vec2", arch="tiny")
    result = run("speech", dask_address, f"speech.pretrain.init_checkpoint={checkpoint}", "speech.variants=[random]")
    lineage = ArtifactStore().lineage(result["pretrain-random-s0"]["key"])
    assert lineage["config"]["pretrain"]["init_checkpoint"] == str(checkpoint)
    with pytest.raises(ConfigError, match=r"speech\.pretrain\.init_checkpoint: expected an existing file .*missing\.pt"):
        run("speech", dask_address, f"speech.pretrain.init_checkpoint={tmp_path / 'missing.pt'}", "speech.variants=[random]")


def test_kill_during_pretraining_resumes_to_the_same_step_count(tmp_path, prefect_api, dask_address, speech_run):
    home = tmp_path / "store"
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    cmd = [sys.executable, "-m", "seqmask.cli", "run", "speech", "--preset", "tiny", "--dask-address", dask_address,
           "--set", "speech.variants=[random]", "--set", "speech.pretrain.steps=60", "--set", "speech.pretrain.checkpoint_every=5"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    checkpoint = None
    while time.monotonic() < deadline and checkpoint is None:
        checkpoint = next((p for p in (home / "scratch").glob("*/last.pt") if _is_pretrain_state(p)), None)
        time.sleep(0.1)
    assert checkpoint is not None, "pretraining wrote no checkpoint within 240 s"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resum" in rerun.stderr.lower()
    [record] = latest_runs(home / "runs", 1)
    pretrain = ArtifactStore(home).ref(record["stages"]["pretrain-random-s0"]["key"]).path
    assert json.loads((pretrain / "summary.json").read_text())["steps"] == 60
    steps = [json.loads(line)["step"] for line in (pretrain / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 60


def _is_pretrain_state(path):
    import torch

    try:
        return torch.load(path, weights_only=True)["seqmask"]["kind"] == "wav2vec2_pretrain_state"
    except Exception:  # being written
        return False


def test_study_tabulates_points_on_valid_and_reuses_the_random_baseline(store_home, dask_address, speech_run, tmp_path):
    import flows.speech

    plan = tmp_path / "plan.yaml"
    plan.write_text("seeds: [0]\npoints:\n  paper: {}\n  nonblank: {speech.scorer.confidence: nonblank}\n")
    result = flows.speech.study(preset="tiny", overrides=[f"orchestration.dask_address={dask_address}"], plan=str(plan))
    study = ArtifactStore().ref(result["study"]["key"]).path
    table = (study / "study.md").read_text()
    assert "| paper | (preset) |" in table and "| nonblank | speech.scorer.confidence=nonblank |" in table
    assert "ask2mask+utt rel. vs random" in table and "on `valid`" in table
    runs = json.loads((study / "study.json").read_text())["runs"]
    assert {run["variant"] for run in runs["nonblank"]} == {"random", "ask2mask+utt"}
    assert all("valid" in run["results"] and "test_mismatched" in run["results"] for run in runs["paper"])
    nonblank_runs = [r for r in latest_runs(store_home / "runs", 10) if r["flow"] == "study-nonblank"]
    stages = nonblank_runs[0]["stages"]
    assert stages["pretrain-random-s0"]["state"] == "reused"  # only Ask2Mask's inputs changed
    assert stages["scores"]["state"] == "computed" and stages["scorer"]["state"] == "reused"
    assert stages["pretrain-ask2mask-utt-s0"]["state"] == "computed"


def test_study_cli_refuses_a_plan_on_a_test_split(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("split: test_mismatched\npoints: {paper: {}}\n")
    assert main(["run", "study", "--preset", "tiny", "--plan", str(plan)]) == 2
    assert "never a test split" in capsys.readouterr().err
