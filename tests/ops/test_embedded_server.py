"""The temporary Prefect API of ``flows.embedded``: two commands sharing a PREFECT_HOME start together.

Each command's temporary server migrates the SQLite database under PREFECT_HOME when it starts; two migrating it at
once used to crash the second (``duplicate column name``). Here two real processes start ``prefect_api()`` on the same
fresh PREFECT_HOME at the same moment, and each must then record a flow run in the shared database.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from processes import prefect_free_env

STARTUP_AND_RUN = """
import sys
import httpx
from flows.embedded import prefect_api

print("ready", flush=True)
sys.stdin.readline()  # the go signal: both processes start their servers at the same moment
with prefect_api() as url:
    flow = httpx.post(f"{url}/flows/", json={"name": "concurrent-start"}, timeout=60)
    flow.raise_for_status()
    httpx.post(f"{url}/flow_runs/", json={"flow_id": flow.json()["id"]}, timeout=60).raise_for_status()
"""
"""``python -c`` program: once imported, say ``ready`` and wait for a line on stdin; then start the temporary API and
record a flow and a flow run on it."""
HANG_TIMEOUT_S = 600
"""Only a hang detector: the two startups, one after the other on a loaded 2-core machine, take well under this."""


@pytest.mark.parametrize("attempt", range(4))
def test_two_commands_sharing_a_prefect_home_start_together(tmp_path, attempt) -> None:
    env = prefect_free_env(PREFECT_HOME=str(tmp_path / "prefect-home"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTUP_AND_RUN],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:  # both have imported Prefect: nothing but the startups is left to race
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [process.communicate(timeout=HANG_TIMEOUT_S)[1] for process in processes]
    for process, error in zip(processes, errors):
        assert process.returncode == 0, error[-3000:]
