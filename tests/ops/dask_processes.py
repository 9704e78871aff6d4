"""A real external Dask cluster: one ``dask scheduler`` and n ``dask worker`` processes on 127.0.0.1, as an operator
starts them by hand, with a way to SIGKILL one worker; for the tests (``external_dask_cluster``) and the bench.

Workers run without a nanny, so a killed worker is really lost (no nanny restarts it), and get seqmask's worker
environment (``seqmask.executor.LOCAL_WORKER_ENV``: one thread, glibc's default malloc trimming). Every process runs in
its own session, gets SIGTERM if the process that started it dies (``flows.embedded``), and is ended when the block
exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed import Client
from distributed.utils import open_port

from seqmask.executor import GPU_RESOURCE, LOCAL_WORKER_ENV
from seqmask.processes import with_parent_death_signal

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
DASK = str(Path(sys.executable).with_name("dask"))
"""The ``dask`` command of this interpreter's environment."""


@dataclass(frozen=True)
class ExternalDask:
    """A running external cluster: its scheduler address and its worker processes by worker name."""

    address: str
    workers: Mapping[str, subprocess.Popen]
    logs: Path
    """Folder of each process's output: ``scheduler.log``, ``w0.log``, ..."""

    def kill(self, name: str) -> None:
        """SIGKILL worker ``name`` (and any process it started, e.g. espeak-ng) and reap it."""
        process = self.workers[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def worker_env() -> dict[str, str]:
    """This process's environment with ``LOCAL_WORKER_ENV`` applied (a None value unsets the variable)."""
    env = dict(os.environ)
    for name, value in LOCAL_WORKER_ENV.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _start(args: list[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """``dask ARGS`` in a session of its own, output to ``log``, SIGTERM when this process dies."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            with_parent_death_signal([DASK, *args]),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM the process group of every live process, then SIGKILL those still alive after
    ``STOP_TIMEOUT_SECONDS``."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_workers(address: str, n_workers: int, logs: Path) -> None:
    """Return once the scheduler at ``address`` reports ``n_workers`` workers; TimeoutError with the logs otherwise."""
    try:
        with Client(address, timeout=START_TIMEOUT_SECONDS, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=START_TIMEOUT_SECONDS)
    except (OSError, TimeoutError) as err:
        tails = "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}" for log in sorted(logs.glob("*.log"))
        )
        raise TimeoutError(
            f"no {n_workers} Dask workers at {address} within {START_TIMEOUT_SECONDS} s: {err}\n{tails}"
        ) from err


@contextlib.contextmanager
def external_dask(n_workers: int, tmp: Path, *, gpu_workers: Collection[str] = ()) -> Iterator[ExternalDask]:
    """A scheduler and ``n_workers`` single-threaded workers (``w0``, ``w1``, ...), logs under ``tmp``; all ended at
    exit. The workers named in ``gpu_workers`` advertise a ``GPU`` resource (``--resources GPU=1``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{open_port('127.0.0.1')}"
    env = worker_env()
    processes = [
        _start(
            ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            tmp / "scheduler.log",
            env,
        )
    ]
    try:
        workers = {}
        for i in range(n_workers):
            name = f"w{i}"
            resources = ["--resources", f"{GPU_RESOURCE}=1"] if name in gpu_workers else []
            workers[name] = _start(
                [
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                    "--name",
                    name,
                    *resources,
                ],
                tmp / f"{name}.log",
                env,
            )
            processes.insert(0, workers[name])  # workers stop before the scheduler
        _wait_for_workers(address, n_workers, tmp)
        yield ExternalDask(address=address, workers=workers, logs=tmp)
    finally:
        _stop(processes)


@pytest.fixture(scope="module")
def external_dask_cluster(tmp_path_factory) -> Iterator[ExternalDask]:
    """A two-worker external cluster for one test module (a test that kills a worker leaves one)."""
    with external_dask(2, tmp_path_factory.mktemp("dask-cluster")) as cluster:
        yield cluster
