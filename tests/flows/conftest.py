"""Fixtures of the flow tests: a ``seqmask run`` killed mid-stage and run again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest


def _kill_then_rerun(
    cmd: Sequence[str], env: dict[str, str], ready: Callable[[], Any], *, wait_s: float = 240
) -> subprocess.CompletedProcess:
    """Start ``cmd`` in its own session, SIGKILL its whole group once ``ready()`` is truthy (a checkpoint exists), then
    run it again to the end; the rerun's result, which must have succeeded."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while not ready():
        assert time.monotonic() < deadline, f"nothing to interrupt within {wait_s:.0f} s: {' '.join(cmd)}"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    return rerun


@pytest.fixture
def kill_then_rerun() -> Callable[..., subprocess.CompletedProcess]:
    """:func:`_kill_then_rerun`."""
    return _kill_then_rerun
