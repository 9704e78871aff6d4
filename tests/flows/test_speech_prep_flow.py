"""The speech-prep flow on a real Prefect API and a real Dask cluster, tiny preset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from seqmask.app.root import load_experiment
from seqmask.cli import main
from seqmask.config import to_dict
from seqmask.data.manifest import AudioRecord
from seqmask.files import read_jsonl
from seqmask.runlog import latest_runs
from seqmask.speech import artifacts, readers
from seqmask.stage import StageFailed
from seqmask.store import ArtifactStore

pytestmark = pytest.mark.usefixtures("prefect_api")


def run_flow(dask_address, *overrides, from_stage=None):
    from flows.speech import speech_prep

    config = load_experiment("tiny", [f"orchestration.dask_address={dask_address}", *overrides])
    return speech_prep(config=to_dict(config), from_stage=from_stage)


def latest_states(home):
    [run] = latest_runs(home / "runs", 1)
    return run, {name: stage["state"] for name, stage in run["stages"].items()}


@pytest.fixture(scope="module")
def first_run(store_home, dask_address, prefect_api):
    return run_flow(dask_address)


def test_cold_run_computes_every_stage_and_writes_clean_splits(first_run, store_home):
    run, states = latest_states(store_home)
    assert run["state"] == "completed"
    assert states == {f"speech-{name}": "computed" for name in ("fsdd", "ljspeech", "espeak-synth", "espeak", "splits")}
    splits = ArtifactStore().ref(first_run["speech-splits"]["key"]).path
    manifests = {p.stem: read_jsonl(p, AudioRecord) for p in (splits / artifacts.MANIFESTS).glob("*.jsonl")}
    assert set(manifests) == {"train", "valid", "test_matched", "test_mismatched", "unlabelled"}
    records = [r for rs in manifests.values() for r in rs]
    assert len({r.id for r in records}) == len(records)
    assert all(r.sample_rate == 16000 and (splits / r.shard).is_file() for r in records)
    # no leakage: the held-out FSDD speaker and held-out voices only in test_mismatched; no sentence in train and test
    train_speakers = {r.speaker for r in manifests["train"]}
    assert "yweweler" not in train_speakers and "en-gb-scotland+m2" not in train_speakers
    assert {r.speaker for r in manifests["test_mismatched"] if r.source == "fsdd"} == {"yweweler"}
    espeak_train_text = {r.text for r in manifests["train"] if r.source == "espeak"}
    espeak_test_text = {
        r.text for s in ("test_matched", "test_mismatched") for r in manifests[s] if r.source == "espeak"
    }
    assert espeak_train_text and espeak_test_text and not espeak_train_text & espeak_test_text
    assert all(r.synthetic for r in records if r.source == "espeak")
    assert len([r for r in manifests["test_mismatched"] if r.source == "ljspeech"]) == 8
    assert "espeak (synthetic)" in (splits / artifacts.SPLITS_TABLE).read_text()


def test_rerun_reuses_every_stage(first_run, store_home, dask_address):
    again = run_flow(dask_address)
    _, states = latest_states(store_home)
    assert set(states.values()) == {"reused"}, states  # how much faster that is, bench/cached_rerun.py measures
    assert again == first_run


def test_markdown_report_reaches_prefect(first_run):
    from prefect import get_client

    async def read():
        async with get_client() as client:
            return await client.read_artifacts()

    import asyncio

    published = asyncio.run(read())
    summaries = [a for a in published if a.key == "speech-prep-summary"]
    assert summaries and "| speech-splits |" in summaries[0].data
    assert any(a.type == "progress" for a in published)


def test_failed_stage_then_fix_reruns_only_it_and_downstream(first_run, store_home, dask_address):
    with pytest.raises(StageFailed, match="speech-espeak-synth") as info:
        run_flow(dask_address, "speech_prep.synth.voices=[xx-no-such-voice]")
    assert info.value.stage == "speech-espeak-synth"
    run, states = latest_states(store_home)
    assert run["state"] == "failed" and states["speech-espeak-synth"] == "failed"
    assert "xx-no-such-voice" in run["stages"]["speech-espeak-synth"]["error"]
    assert states["speech-fsdd"] == states["speech-ljspeech"] == "reused"

    run_flow(dask_address, "speech_prep.synth.voices=[en-us, en-gb+m1]")
    _, states = latest_states(store_home)
    assert states == {
        "speech-fsdd": "reused",
        "speech-ljspeech": "reused",
        "speech-espeak-synth": "computed",
        "speech-espeak": "computed",
        "speech-splits": "computed",
    }


def test_from_stage_forces_it_and_downstream(first_run, store_home, dask_address):
    run_flow(dask_address, from_stage="speech-espeak")
    _, states = latest_states(store_home)
    assert states == {
        "speech-fsdd": "reused",
        "speech-ljspeech": "reused",
        "speech-espeak-synth": "reused",
        "speech-espeak": "computed",
        "speech-splits": "computed",
    }


def test_flipped_byte_is_detected_and_recomputed(first_run, store_home, dask_address):
    store = ArtifactStore()
    fsdd = store.ref(first_run["speech-fsdd"]["key"]).path
    shard = sorted((fsdd / artifacts.SHARDS).iterdir())[0]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert store.verify(first_run["speech-fsdd"]["key"])

    again = run_flow(dask_address)
    _, states = latest_states(store_home)
    assert states["speech-fsdd"] == "computed" and states["speech-ljspeech"] == "reused"
    assert again["speech-fsdd"]["digest"] == first_run["speech-fsdd"]["digest"]  # the rebuild is deterministic
    assert store.verify(first_run["speech-fsdd"]["key"]) == []
    assert any(store_home.joinpath("corrupt").iterdir())
    # shards are hard-linked into every splits artifact: the one flipped byte shows there too
    [run] = latest_runs(store_home / "runs", 1)
    assert all(store.verify(stage["key"]) == [] for stage in run["stages"].values())


def test_user_manifest_with_bad_records(store_home, dask_address, tmp_path, first_run):
    fsdd = ArtifactStore().ref(first_run["speech-fsdd"]["key"]).path  # any real audio will do: copy a few source files
    from seqmask.paths import resolve_path

    sources = sorted(resolve_path("data/speech/fsdd").glob("*.flac"))[:3]
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    lines = [{"id": f"u{i}", "audio": str(p), "text": "hello", "split": "train"} for i, p in enumerate(sources)]
    lines += [
        {"id": "bad", "audio": "broken.wav", "text": "x", "split": "train"},
        {"id": "u0", "audio": str(sources[0]), "text": "dup"},
    ]
    manifest = tmp_path / "mine.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = run_flow(dask_address, f"speech_prep.user.manifest={manifest}", "speech_prep.synth.enabled=false")
    user = ArtifactStore().ref(result["speech-user"]["key"]).path
    assert sorted(r.id for r in readers.read_manifest(user)) == ["u0", "u1", "u2"]
    reasons = {r.id: r.reason for r in readers.read_rejects(user)}
    assert reasons == {"bad": "unreadable", "u0": "duplicate_id"}
    assert fsdd.exists()


def test_cli_status_and_artifacts(first_run, store_home, capsys):
    assert main(["status", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "speech-prep" in out and "speech-splits" in out
    assert main(["artifacts", "ls"]) == 0
    assert "speech-espeak-synth" in capsys.readouterr().out
    assert main(["artifacts", "show", first_run["speech-splits"]["key"][:10]]) == 0
    lineage = json.loads(capsys.readouterr().out)
    assert lineage["stage"] == "speech-splits" and "fsdd" in lineage["inputs"] and "packages" in lineage
    assert main(["artifacts", "verify", first_run["speech-ljspeech"]["key"]]) == 0
    assert "1 of 1 artifacts verify" in capsys.readouterr().out
    assert main(["artifacts", "gc", "--dry-run", "--keep-runs", "1"]) == 0


def test_bad_config_fails_before_any_work(store_home, capsys):
    before = len(latest_runs(store_home / "runs", 1000))
    assert main(["run", "speech-prep", "--preset", "tiny", "--set", "speech_prep.synth.target_hours=abc"]) == 2
    assert "speech_prep.synth.target_hours: expected float" in capsys.readouterr().err
    assert len(latest_runs(store_home / "runs", 1000)) == before


def test_kill_during_a_stage_leaves_store_intact_and_rerun_completes(tmp_path, prefect_api, dask_address):
    home = tmp_path / "killed-store"
    env = {**os.environ, "SEQMASK_HOME": str(home), "PREFECT_API_URL": prefect_api}
    cmd = [
        sys.executable,
        "-m",
        "seqmask.cli",
        "run",
        "speech-prep",
        "--preset",
        "tiny",
        "--set",
        "orchestration.retries=0",
        "--dask-address",
        dask_address,
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((home / "tmp").glob("*")):
        time.sleep(0.05)
    assert any((home / "tmp").glob("*")), "no stage started building within 120 s"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    store = ArtifactStore(home)
    assert all(store.verify(item["key"]) == [] for item in store.list())  # only whole artifacts were published
    [run] = latest_runs(home / "runs", 1)
    assert run["state"] == "crashed"

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (tmp_path / "rerun.log").write_text(rerun.stderr)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    [run] = latest_runs(home / "runs", 1)
    assert run["state"] == "completed" and {s["state"] for s in run["stages"].values()} <= {"computed", "reused"}


def test_fixing_an_audio_file_a_manifest_names_rebuilds_the_corpus(store_home, dask_address, tmp_path, first_run):
    """The user stage's key covers every audio file the manifest points to, not only the manifest."""
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "fixed-later.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(16000) / 7).astype(np.float32), 16000)
    good = wav.read_bytes()
    wav.write_bytes(good[: len(good) // 2])  # truncated: the data chunk announces more than the file holds
    manifest = tmp_path / "one.jsonl"
    manifest.write_text(json.dumps({"id": "fixed-later", "audio": str(wav), "text": "hello"}) + "\n")
    overrides = (f"speech_prep.user.manifest={manifest}", "speech_prep.synth.enabled=false")
    result = run_flow(dask_address, *overrides)
    user = ArtifactStore().ref(result["speech-user"]["key"]).path
    assert [r.reason for r in readers.read_rejects(user)] == ["truncated"]

    wav.write_bytes(good)
    fixed = run_flow(dask_address, *overrides)
    _, states = latest_states(store_home)
    assert states["speech-user"] == "computed" and states["speech-fsdd"] == "reused"
    user = ArtifactStore().ref(fixed["speech-user"]["key"]).path
    assert [r.id for r in readers.read_manifest(user)] == ["fixed-later"]


def test_an_id_an_earlier_corpus_holds_is_rejected_in_splits(store_home, dask_address, tmp_path, first_run):
    from seqmask.paths import resolve_path

    taken = "fsdd-0_george_10"  # an FSDD train utterance
    manifest = tmp_path / "clash.jsonl"
    audio = resolve_path("data/speech/fsdd/1_theo_20.flac")
    manifest.write_text(json.dumps({"id": taken, "audio": str(audio), "text": "one"}) + "\n")
    result = run_flow(dask_address, f"speech_prep.user.manifest={manifest}", "speech_prep.synth.enabled=false")
    splits = ArtifactStore().ref(result["speech-splits"]["key"]).path
    train = [r for r in readers.records(splits, ("train",)) if r.id == taken]
    assert [r.source for r in train] == ["fsdd"]
    rejects = readers.read_rejects(splits)
    assert [(r.id, r.reason, r.source) for r in rejects] == [(taken, "duplicate_id", "user")]
    assert "duplicate_id: 1" in (splits / artifacts.SPLITS_TABLE).read_text()


def test_a_relative_manifest_resolves_against_the_current_directory(
    store_home, dask_address, tmp_path, monkeypatch, first_run, capsys
):
    from seqmask.paths import resolve_path

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    audio = resolve_path("data/speech/fsdd/2_theo_21.flac")
    (workdir / "my.jsonl").write_text(json.dumps({"id": "mine-1", "audio": str(audio), "text": "two"}) + "\n")
    monkeypatch.chdir(workdir)
    code = main(
        [
            "run",
            "speech-prep",
            "--preset",
            "tiny",
            "--manifest",
            "my.jsonl",
            "--dask-address",
            dask_address,
            "--set",
            "speech_prep.synth.enabled=false",
        ]
    )
    assert code == 0, capsys.readouterr().err[-2000:]
    [run] = latest_runs(store_home / "runs", 1)
    assert run["cwd"] == str(workdir)
    user = ArtifactStore().ref(run["stages"]["speech-user"]["key"]).path
    assert [r.id for r in readers.read_manifest(user)] == ["mine-1"]
