"""The Prefect API a ``seqmask`` command reports to: ``PREFECT_API_URL`` when set, else a temporary server it owns.

Prefect's own temporary server outlives a killed client (it is reparented to PID 1
and keeps its ~230 MB). The server started here is the same ASGI app on SQLite,
bound to 127.0.0.1, but the kernel sends it SIGTERM when the process that started
it dies, however it dies (``PR_SET_PDEATHSIG``), and it is stopped when the command
ends. Commands sharing a ``PREFECT_HOME`` share its database, so every run shows
in one UI; their servers start one at a time (a file lock under ``PREFECT_HOME``),
since two migrating one SQLite file at once crash.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import prefect
from prefect.context import refresh_global_settings_context
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, get_current_settings

from seqmask.files import exclusive
from seqmask.processes import stop, with_parent_death_signal

STARTUP_TIMEOUT_SECONDS = 120.0
"""From the moment this command's server may start (the startup lock held) until it answers; generous for loaded
machines."""
STARTUP_LOCK = "seqmask-server-startup.lock"
"""File under ``PREFECT_HOME`` that a temporary server holds while it migrates the database and starts."""


@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the API URL that flows run inside this block report to."""
    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    previous = os.environ.get("PREFECT_API_URL")
    home = get_current_settings().home
    home.mkdir(parents=True, exist_ok=True)
    with exclusive(home / STARTUP_LOCK):  # a port is picked once any earlier server holds its own
        server, url = _start_server()
    try:
        os.environ["PREFECT_API_URL"] = url  # process-wide: Prefect's log and event threads read the global settings
        refresh_global_settings_context()
        yield url
    finally:
        _drain_prefect_workers()  # logs and events still queued go out before the server stops
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        refresh_global_settings_context()
        stop(server)


def _start_server() -> tuple[subprocess.Popen, str]:
    """A temporary server on a free port of 127.0.0.1, once it answers, and its API URL (stopped again if it does
    not)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    uvicorn = [
        "-m",
        "uvicorn",
        "--app-dir",
        str(prefect.__module_path__.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]
    server = subprocess.Popen(
        with_parent_death_signal([sys.executable, *uvicorn]),
        env={
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        },
    )
    try:
        _wait_healthy(server, url)
    except BaseException:
        stop(server)
        raise
    return server, url


def _drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send what Prefect's background log and event workers still hold (each waits at most ``timeout``)."""
    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(server: subprocess.Popen, url: str) -> None:
    """Block until ``url/health`` answers; ``RuntimeError`` when the server exits or stays silent."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the temporary Prefect server exited with status {server.returncode} while starting"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(f"the temporary Prefect server at {url} did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s")
