"""Prefect server under load: N tiny flow runs submitted at once to a real server and run by one process worker;
runs per minute, failures, each run's latency and the server's (and worker's) peak memory.

    .venv/bin/python bench/ops_load.py [--runs 50] [--concurrency 2] [--postgres] [--quick]

Set-up, not timed: a real ``seqmask server start`` on a free port of 127.0.0.1 (SQLite in a temp PREFECT_HOME, or a
throw-away Postgres cluster with ``--postgres``); ``seqmask deploy`` of one on-demand ``speech-prep`` deployment at
preset ``tiny`` on the ``cpu`` work pool, whose concurrency limit is set to ``--concurrency``; one
``prefect worker start --pool cpu --type process`` (PREFECT_WORKER_QUERY_SECONDS=1), which first runs one warm-up
flow run of the deployment, so that the artifact store holds every stage.

Load, timed: ``--runs`` flow runs of the deployment created at once through the REST API (a thread per call, each
call retried as Prefect's own client retries: SQLite answers 503 when it is busy), then polled until every one is
final. Every measured run should reuse every stage (the table counts those whose run record says so), so the bench
measures orchestration, not compute. Wall time runs from just before the first call to the last final state's
timestamp; a run's latency from its creation to its final state. Runs of the deployment that no call returned
(a retried call whose first try did create one) count as untracked. The server process and every process under it,
the worker alone, the worker with its flow-run processes, and the Postgres cluster are sampled with psutil every
0.5 s during the load (summed RSS). Server, worker and Postgres are stopped (with every process under them) and the
temp dirs removed on exit, Ctrl-C and SIGTERM included. There are no sides taking turns here (``--postgres`` is
another run of the bench).

``--quick``: the same set-up and warm-up run, then a load of 2 flow runs (about 2 minutes on 2 cores: the warm-up run
computes speech-prep at preset tiny, and each flow run starts a process); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import httpx
import prefect
import psutil
from _common import bench_parser, parse_args  # bench/ is first on sys.path

from seqmask.paths import PROJECT_ROOT
from seqmask.runlog import latest_runs

sys.path.insert(0, str(PROJECT_ROOT / "tests" / "ops"))
from processes import free_port, prefect_free_env, signal_tree

BIN = Path(sys.executable).parent
POOL = "cpu"
DEPLOYMENT = "speech-prep/tiny"
DEPLOYMENTS_YAML = "deployments:\n  - flow: speech-prep\n    preset: tiny\n    pool: cpu\n"
"""One on-demand deployment (no cron): ``speech-prep/tiny`` on the ``cpu`` pool."""
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
SAMPLE_S = 0.5
"""Interval of the RSS sampler."""
POLL_S = 0.5
"""Interval of the final-state poll."""
SERVER_START_TIMEOUT_S = 120
WARM_TIMEOUT_S = 900
"""The warm-up run computes every stage of speech-prep at preset tiny (espeak-ng synthesis, shards)."""
MIB = 2**20
RETRY_CODES = (408, 429, 502, 503)
RETRY_ERRORS = (
    httpx.ReadTimeout,
    httpx.PoolTimeout,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
CLIENT_RETRIES = 5
JITTER = 0.2
"""A call answered one of RETRY_CODES (503: SQLite busy) or failing with one of RETRY_ERRORS is retried up to
CLIENT_RETRIES times after 2**n s +- JITTER, as Prefect's own client does (prefect/client/base.py; its defaults of
PREFECT_CLIENT_MAX_RETRIES and PREFECT_CLIENT_RETRY_JITTER_FACTOR)."""
JITTER_SEED = 0
_jitter = random.Random(JITTER_SEED)
"""The random draws of every retry's jitter."""


def stop_tree(pid: int) -> None:
    """SIGTERM ``pid`` and every process under it (collected first, so orphans are not missed); SIGKILL what is left
    after 20 s."""
    _, alive = psutil.wait_procs(signal_tree(pid, signal.SIGTERM), timeout=20)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)


@contextlib.contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """``argv`` running in the project root, in a session of its own, output to ``log``; stopped with every process
    under it on exit."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop_tree(process.pid)
        process.wait()


@contextlib.contextmanager
def database(postgres: bool) -> Iterator[tuple[dict[str, str], int | None]]:
    """The server's extra environment and the postmaster's pid: a throw-away Postgres cluster
    (tests/ops/postgres_cluster.py) when ``postgres``, else nothing (SQLite in PREFECT_HOME, inside the server
    process)."""
    if not postgres:
        yield {}, None
        return
    from postgres_cluster import ThrowawayPostgres  # the cluster the ops tests start

    with ThrowawayPostgres() as cluster:
        postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
        yield {"SEQMASK_DB_URL": cluster.url}, postmaster


def backoff(retry: int) -> float:
    """Seconds to wait before retry ``retry`` (1, 2, ...) of a call: 2**retry +- JITTER."""
    return 2**retry * _jitter.uniform(1 - JITTER, 1 + JITTER)


def api(client: httpx.Client, method: str, path: str, body: dict | None = None, retried: Counter | None = None) -> Any:
    """The JSON answer of one REST call to the server, retried as Prefect's client retries (each retry's cause counted
    in ``retried``); raises on an error status or error that is left after the last retry."""
    for retry in range(1, CLIENT_RETRIES + 2):
        try:
            response = client.request(method, path, json=body)
            cause = str(response.status_code) if response.status_code in RETRY_CODES else None
        except RETRY_ERRORS as err:
            if retry > CLIENT_RETRIES:
                raise
            cause = type(err).__name__
        if cause is None or retry > CLIENT_RETRIES:
            break
        if retried is not None:
            retried[cause] += 1
        time.sleep(backoff(retry))
    response.raise_for_status()
    return response.json() if response.content else None


def wait_healthy(client: httpx.Client, server: subprocess.Popen, log: Path) -> None:
    """Wait until the API answers /health; raises with the server's log if it exits or never answers."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while server.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(
        f"the Prefect server did not come up (exit code {server.poll()}):\n{log.read_text(errors='replace')[-3000:]}"
    )


def register(env: dict[str, str], tmp: Path, client: httpx.Client, concurrency: int) -> str:
    """Deploy ``speech-prep/tiny`` with ``seqmask deploy``, limit the ``cpu`` pool to ``concurrency`` runs; the
    deployment's id."""
    path = tmp / "deployments.yaml"
    path.write_text(DEPLOYMENTS_YAML)
    done = subprocess.run(
        [str(BIN / "seqmask"), "deploy", "--file", str(path)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seqmask deploy failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    api(client, "PATCH", f"/work_pools/{POOL}", {"concurrency_limit": concurrency})
    return api(client, "GET", f"/deployments/name/{DEPLOYMENT}")["id"]


@dataclass
class Submission:
    """What creating the load's flow runs gave."""

    at: datetime
    """Just before the first call."""
    ids: list[str]
    """The flow runs created."""
    errors: list[str]
    """The errors of the calls that failed for good."""
    retried: Counter
    """The causes of the retries (status code or error name), counted."""


def submit(client: httpx.Client, deployment_id: str, runs: int) -> Submission:
    """Create ``runs`` flow runs of the deployment at once, a thread per call."""
    at, retried = datetime.now(UTC), Counter()
    with ThreadPoolExecutor(max_workers=runs) as pool:
        calls = [
            pool.submit(api, client, "POST", f"/deployments/{deployment_id}/create_flow_run", {}, retried)
            for _ in range(runs)
        ]
    return Submission(
        at,
        [c.result()["id"] for c in calls if not c.exception()],
        [repr(c.exception()) for c in calls if c.exception()],
        retried,
    )


def wait_idle(pid: int, timeout_s: float = 60) -> None:
    """Wait until the process ``pid`` has no child left (a flow-run process exits a few seconds after its final
    state)."""
    deadline = time.monotonic() + timeout_s
    while psutil.Process(pid).children() and time.monotonic() < deadline:
        time.sleep(POLL_S)


def wait_final(client: httpx.Client, ids: list[str], timeout_s: float) -> list[dict]:
    """The flow runs ``ids`` once every one is in a final state; raises with the states seen after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = api(client, "POST", "/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}, "limit": len(ids)})
        if len(runs) == len(ids) and all(run["state_type"] in FINAL for run in runs):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"flow runs not final after {timeout_s:.0f} s: {dict(Counter(run['state_name'] for run in runs))}"
            )
        time.sleep(POLL_S)


class PeakRss(threading.Thread):
    """Samples the summed RSS of named process trees every ``SAMPLE_S`` while running; the first sample and the peak
    of each."""

    def __init__(self, roots: dict[str, tuple[int, bool]]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        """name -> (pid, whether the processes under it count)."""
        self.first: dict[str, int] = {}
        self.peak: dict[str, int] = dict.fromkeys(roots, 0)
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            for name, (pid, children) in self.roots.items():
                rss = tree_rss(pid, children)
                self.first.setdefault(name, rss)
                self.peak[name] = max(self.peak[name], rss)
            if self.done.wait(SAMPLE_S):
                return

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        self.join()


def tree_rss(pid: int, children: bool) -> int:
    """RSS in bytes of ``pid``, plus every process under it when ``children`` (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *(root.children(recursive=True) if children else [])]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def seconds(start: str, end: str) -> float:
    """Seconds between two ISO timestamps of the API."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive interpolation)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def fully_reused(store: Path, ids: list[str]) -> int:
    """How many of the flow runs ``ids`` have a run record in the store whose every stage was reused."""
    records = [r for r in latest_runs(store / "runs", len(ids) + 10) if r.get("orchestrator_run_id") in set(ids)]
    return sum(1 for r in records if r["stages"] and all(stage["state"] == "reused" for stage in r["stages"].values()))


def failures(client: httpx.Client, runs: list[dict]) -> list[str]:
    """Each run that did not complete: its name, final state and message, and the tail of its last ERROR log line."""
    found = []
    for run in runs:
        if run["state_type"] != "COMPLETED":
            logs = api(
                client,
                "POST",
                "/logs/filter",
                {
                    "logs": {"flow_run_id": {"any_": [run["id"]]}, "level": {"ge_": 40}},
                    "sort": "TIMESTAMP_DESC",
                    "limit": 1,
                },
            )
            last = logs[0]["message"][-1500:] if logs else "(no ERROR log)"
            found.append(f"{run['name']}: {run['state']['name']}: {run['state'].get('message')}\n{last}")
    return found


def load_row(args: argparse.Namespace, submission: Submission, runs: list[dict], reused: int, untracked: int) -> str:
    """The markdown row of the load: counts, wall time, throughput and run latencies."""
    wall = seconds(submission.at.isoformat(), max(run["state"]["timestamp"] for run in runs))
    latency = [seconds(run["created"], run["state"]["timestamp"]) for run in runs]
    execution = [seconds(run["start_time"], run["end_time"]) for run in runs if run["start_time"] and run["end_time"]]
    completed = sum(run["state_type"] == "COMPLETED" for run in runs)
    retries = ", ".join(f"{count} x {cause}" for cause, count in submission.retried.most_common()) or "0"
    return (
        f"| {args.runs} | {args.concurrency} | {'Postgres' if args.postgres else 'SQLite'} | {retries}"
        f" | {len(submission.errors)} | "
        f"{untracked} | {completed} | {len(runs) - completed} | {reused} | {wall:.1f} | {60 * len(runs) / wall:.1f} | "
        f"{statistics.median(latency):.1f} | {p95(latency):.1f}"
        f" | {statistics.median(execution) if execution else float('nan'):.1f} |"
    )


def print_report(row: str, rss: PeakRss, failed: list[str], submit_errors: list[str]) -> None:
    """The load table, the memory table, then every submission that failed and every run that did not complete."""
    print(
        "\n| runs asked | concurrency | database | create calls retried | creates failed | untracked runs | completed"
        " | failed/crashed "
        "| every stage reused | wall s | runs/min | creation→final median s | creation→final p95 s"
        " | start→end median s |"
    )
    print("|---:|---:|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(row)
    print("\n| process (RSS summed) | at load start MiB | peak during load MiB |\n|:---|---:|---:|")
    for name in rss.roots:
        print(f"| {name} | {rss.first[name] / MIB:.0f} | {rss.peak[name] / MIB:.0f} |")
    for reason, count in Counter(submit_errors).most_common():
        print(f"\ncreate call failed {count} x: {reason}")
    for failure in failed:
        print(f"\nrun {failure}")


def run_load(args: argparse.Namespace, tmp: Path) -> None:
    """Everything, inside ``tmp``: database, server, deployment, worker, warm-up, load and report."""
    env = prefect_free_env(PREFECT_HOME=str(tmp / "prefect"), SEQMASK_HOME=str(tmp / "store"))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    client_env = env | {"PREFECT_API_URL": api_url}
    setup: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        setup[name], mark = time.perf_counter() - mark, time.perf_counter()

    with contextlib.ExitStack() as stack:
        db_env, postmaster = stack.enter_context(database(args.postgres))
        server = stack.enter_context(
            started(
                [sys.executable, "-m", "seqmask.cli", "server", "start", "--port", str(port)],
                env | db_env,
                tmp / "server.log",
            )
        )
        client = stack.enter_context(httpx.Client(base_url=api_url, timeout=60))
        wait_healthy(client, server, tmp / "server.log")
        lap("database and server")
        deployment_id = register(client_env, tmp, client, args.concurrency)
        lap("seqmask deploy")
        worker = stack.enter_context(
            started(
                [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
                client_env | {"PREFECT_WORKER_QUERY_SECONDS": "1"},
                tmp / "worker.log",
            )
        )
        warm = wait_final(
            client, [api(client, "POST", f"/deployments/{deployment_id}/create_flow_run", {})["id"]], WARM_TIMEOUT_S
        )[0]
        if warm["state_type"] != "COMPLETED":  # the one run of the deployment before the load
            raise RuntimeError(f"the warm-up run ended {warm['state']['name']}: {warm['state'].get('message')}")
        lap("worker and warm-up run")
        wait_idle(worker.pid)
        lap("worker idle")
        roots = {
            "server (+ children)": (server.pid, True),
            "worker": (worker.pid, False),
            "worker + flow runs": (worker.pid, True),
        }
        if postmaster is not None:
            roots["postgres (+ backends)"] = (postmaster, True)
        with PeakRss(roots) as rss:
            submission = submit(client, deployment_id, args.runs)
            if not submission.ids:
                raise RuntimeError(f"no flow run could be created: {submission.errors[0]}")
            runs = wait_final(client, submission.ids, args.timeout)
        on_server = api(client, "POST", "/flow_runs/count", {"deployments": {"id": {"any_": [deployment_id]}}})
        untracked = on_server - 1 - len(submission.ids)  # created by a call that failed or was retried after all
        row = load_row(args, submission, runs, fully_reused(tmp / "store", submission.ids), untracked)
        print_report(row, rss, failures(client, runs), submission.errors)
        print(f"\nset-up, not timed: {', '.join(f'{name} {value:.1f} s' for name, value in setup.items())}")


def print_settings(args: argparse.Namespace) -> None:
    """The settings of this run, one a line."""
    retries = (
        f"answers {', '.join(map(str, RETRY_CODES))} and connection errors,"
        f" up to {CLIENT_RETRIES} times after 2**n s +- {JITTER:.0%}"
    )
    for line in (
        f"load: {args.runs} flow runs of {DEPLOYMENT} (config resolved by seqmask deploy, on demand) created at once,"
        " a thread per call",
        f"work pool {POOL}: concurrency limit {args.concurrency}; 1 process worker, PREFECT_WORKER_QUERY_SECONDS=1",
        f"database: {'throw-away Postgres' if args.postgres else 'SQLite in PREFECT_HOME'};"
        f" Prefect {prefect.__version__}",
        "warm-up: 1 flow run of the same deployment through the same worker, before the load",
        f"machine: {os.cpu_count()} CPUs, 1-min load average before: {os.getloadavg()[0]:.2f};"
        f" RSS sampled every {SAMPLE_S:g} s",
        f"API calls retried as Prefect's client does: {retries} (jitter seed {JITTER_SEED})",
    ):
        print(line)
    if args.quick:
        print(f"--quick: a load of {args.runs} flow run{'s' if args.runs != 1 else ''}; numbers mean nothing")


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--runs", type=int, default=50, help="flow runs submitted at once (default: 50)")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="concurrency limit of the cpu work pool (default: 2)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="the server on a throw-away Postgres cluster (default: SQLite)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1200, help="seconds to wait for every run to be final (default: 1200)"
    )
    args = parse_args(parser, {"runs": 2, "timeout": 600})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SystemExit: the same clean-up as Ctrl-C
    print_settings(args)
    with tempfile.TemporaryDirectory(prefix="seqmask-ops-load-") as tmp:
        try:
            run_load(args, Path(tmp))
        except BaseException:
            for log in ("server.log", "worker.log"):
                if (Path(tmp) / log).is_file():
                    print(
                        f"--- tail of {log}:\n{(Path(tmp) / log).read_text(errors='replace')[-3000:]}", file=sys.stderr
                    )
            raise


if __name__ == "__main__":
    main()
