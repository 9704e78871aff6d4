"""A real ``seqmask server start`` on a throw-away PostgreSQL: Prefect keeps its tables and flow runs there, and a flow
run that meets a Postgres restart (``pg_ctl restart -m fast``) completes or fails cleanly, never hangs, and leaves the
server working, Prefect's tables consistent and the artifact store verified."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from postgres_cluster import ThrowawayPostgres, postgres, postgres_prefect_server  # noqa: F401
from processes import prefect_free_env

from seqmask.store import ArtifactStore

FLOW_SCRIPT = '''\
"""A flow of `count` tasks; each sleeps `sleep` s, then publishes artifact step-<i> to the store at `root`."""
import sys
import time

from prefect import flow, task
from prefect.runtime import flow_run

from seqmask.store import ArtifactStore


@task
def step(root: str, index: int, sleep: float) -> str:
    time.sleep(sleep)
    build = lambda tmp: (tmp / "out.txt").write_text(f"step {index}\\n")
    ref, _ = ArtifactStore(root).get_or_build(f"step-{index}", stage="pg-step", build=build, lineage={"index": index})
    print(f"step {index} published", flush=True)
    return ref.digest


@flow(name="pg-steps")
def steps(root: str, count: int, sleep: float) -> int:
    print(f"flow run {flow_run.id}", flush=True)
    return len([step(root, index, sleep) for index in range(count)])


if __name__ == "__main__":
    steps(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
'''
STEPS = 5
"""Tasks in the flow run that meets the restart."""
RUN_TIMEOUT_S = 60
"""A flow run that takes longer than this hangs."""


def start_flow(api_url: str, tmp_path: Path, name: str, count: int, sleep: float) -> tuple[subprocess.Popen, Path]:
    """Start the flow script against ``api_url`` in a subprocess; returns it and its output file."""
    script = tmp_path / "pg_steps.py"
    script.write_text(FLOW_SCRIPT)
    output = tmp_path / f"{name}.log"
    env = prefect_free_env(PREFECT_API_URL=api_url, PREFECT_HOME=str(tmp_path / "prefect-client"))
    with open(output, "w") as out:
        run = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "store"), str(count), str(sleep)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return run, output


def finish(run: subprocess.Popen, output: Path) -> tuple[int, str, str]:
    """Wait for a flow subprocess; returns its exit status, output and flow run id (a hang fails the test)."""
    try:
        returncode = run.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
        raise AssertionError(f"the flow run hung for {RUN_TIMEOUT_S} s:\n{output.read_text()[-3000:]}") from None
    text = output.read_text()
    run_ids = [line.split()[-1] for line in text.splitlines() if line.startswith("flow run ")]
    assert run_ids, f"the flow never started:\n{text[-3000:]}"
    return returncode, text, run_ids[0]


def recorded_state(cluster: ThrowawayPostgres, api_url: str, run_id: str) -> str:
    """The flow run's state type, as Postgres holds it and the API reports it (both must agree)."""
    rows = cluster.query("SELECT state_type::text AS state FROM flow_run WHERE id = $1::uuid", run_id)
    api_state = httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=10).json()["state"]["type"]
    assert [row["state"] for row in rows] == [api_state]
    return api_state


def completed_task_runs(cluster: ThrowawayPostgres, run_id: str) -> int:
    """How many of the flow run's task runs Postgres holds as COMPLETED, once the server's task run recorder (which
    writes them from events, and retries those a restart interrupts) has caught up or 30 s have passed."""
    deadline = time.monotonic() + 30
    while True:
        rows = cluster.query(
            "SELECT count(*) AS n FROM task_run WHERE flow_run_id = $1::uuid AND state_type = 'COMPLETED'", run_id
        )
        if rows[0]["n"] >= STEPS or time.monotonic() > deadline:
            return rows[0]["n"]
        time.sleep(0.5)


def wait_until_published(store: Path, key: str, run: subprocess.Popen, output: Path) -> None:
    """Wait until the flow subprocess has published artifact ``key`` (it is mid-run then)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (store / "objects" / key).is_dir():
        assert run.poll() is None and time.monotonic() < deadline, output.read_text()[-3000:]
        time.sleep(0.1)


def inconsistent_states(cluster: ThrowawayPostgres) -> list[dict]:
    """Flow and task runs whose current state row is missing or disagrees with the run's state type."""
    return cluster.query(
        "SELECT 'flow_run' AS kind, r.id FROM flow_run r LEFT JOIN flow_run_state s ON s.id = r.state_id"
        " WHERE r.state_id IS NOT NULL AND s.type IS DISTINCT FROM r.state_type"
        " UNION ALL "
        "SELECT 'task_run', r.id FROM task_run r LEFT JOIN task_run_state s ON s.id = r.state_id"
        " WHERE r.state_id IS NOT NULL AND s.type IS DISTINCT FROM r.state_type"
    )


def test_prefect_keeps_its_tables_and_flow_runs_in_postgres(postgres, postgres_prefect_server, tmp_path) -> None:  # noqa: F811
    tables = {row["tablename"] for row in postgres.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"alembic_version", "flow", "flow_run", "flow_run_state", "task_run"} <= tables
    returncode, output, run_id = finish(*start_flow(postgres_prefect_server, tmp_path, "tiny", count=1, sleep=0))
    assert returncode == 0, output[-3000:]
    assert recorded_state(postgres, postgres_prefect_server, run_id) == "COMPLETED"


def test_a_postgres_restart_mid_run_leaves_server_and_stores_consistent(
    postgres,  # noqa: F811
    postgres_prefect_server,  # noqa: F811
    tmp_path,
) -> None:
    run, output = start_flow(postgres_prefect_server, tmp_path, "restarted", count=STEPS, sleep=1)
    wait_until_published(tmp_path / "store", "step-0", run, output)
    postgres.restart()
    returncode, text, run_id = finish(run, output)
    if returncode == 0:  # the client and the server's services retried through the restart
        assert recorded_state(postgres, postgres_prefect_server, run_id) == "COMPLETED"
        assert text.count(" published") == STEPS and completed_task_runs(postgres, run_id) == STEPS, text[-3000:]
    else:  # failed cleanly: an error, and the run recorded as over
        assert "Error" in text and recorded_state(postgres, postgres_prefect_server, run_id) in {"FAILED", "CRASHED"}, (
            text[-3000:]
        )
    assert httpx.get(f"{postgres_prefect_server}/health", timeout=10).status_code == 200
    assert httpx.get(f"{postgres_prefect_server}/ready", timeout=10).status_code == 200  # its database answers again
    fresh_code, fresh_text, fresh_id = finish(*start_flow(postgres_prefect_server, tmp_path, "fresh", count=1, sleep=0))
    assert fresh_code == 0 and recorded_state(postgres, postgres_prefect_server, fresh_id) == "COMPLETED", fresh_text[
        -3000:
    ]
    assert inconsistent_states(postgres) == []
    problems = ArtifactStore(tmp_path / "store").verify_all()
    assert sorted(problems) == [f"step-{index}" for index in range(text.count(" published"))] and not any(
        problems.values()
    )
