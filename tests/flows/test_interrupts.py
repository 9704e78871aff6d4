"""A `seqmask run` killed mid-stage leaves no server or worker behind, and its record says what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from seqmask.runlog import latest_runs


def _running_stage(home):
    """The stage a run record shows as running, if any."""
    for path in (home / "runs").glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue  # being rewritten
        running = [name for name, stage in record["stages"].items() if stage["state"] == "running"]
        if running:
            return running[0]
    return None


def _cmdline(process):
    """A process's command line; empty for one that has just exited (a short-lived child of a stage)."""
    try:
        return process.cmdline()
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_run_leaves_no_prefect_server_and_no_running_stage(tmp_path, sig):
    home = tmp_path / "store"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env |= {"SEQMASK_HOME": str(home), "PREFECT_HOME": str(tmp_path / "prefect")}  # the CLI starts its own server
    cli = subprocess.Popen(
        [sys.executable, "-m", "seqmask.cli", "run", "speech-prep", "--preset", "tiny"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and _running_stage(home) is None:
        assert cli.poll() is None, "the run ended before a stage was seen running"
        time.sleep(0.05)
    stage = _running_stage(home)
    assert stage is not None, "no stage started within 180 s"
    descendants = psutil.Process(cli.pid).children(recursive=True)
    servers = [p for p in descendants if "uvicorn" in " ".join(_cmdline(p))]
    assert len(servers) == 1, [_cmdline(p) for p in descendants]

    cli.send_signal(sig)
    cli.wait(timeout=60)
    _, alive = psutil.wait_procs(descendants, timeout=30)
    assert not alive, f"left running after {sig.name}: {[_cmdline(p)[:4] for p in alive]}"

    [run] = latest_runs(home / "runs", 1)
    states = {name: entry["state"] for name, entry in run["stages"].items()}
    assert "running" not in states.values()
    # stages run side by side, and the one seen running may have ended before the signal: every stage either
    # ended before the signal or shows the interruption
    if sig == signal.SIGTERM:  # the run closed its record: the interrupted stages failed
        assert run["state"] == "failed"
        assert set(states.values()) <= {"computed", "reused", "failed"}, json.dumps(run["stages"], indent=1)
        assert all("interrupted" in entry["error"] for entry in run["stages"].values() if entry["state"] == "failed")
    else:  # nothing could run: `status` reads the dead process as a crash
        assert run["state"] == "crashed"
        assert set(states.values()) <= {"computed", "reused", "crashed"}, json.dumps(run["stages"], indent=1)
