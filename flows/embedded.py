"""The Prefect API a ``seqmask`` command reports to: ``PREFECT_API_URL`` when set, else a temporary server it owns.

Prefect's own temporary server outlives a killed client (it is reparented to PID 1
and keeps its ~230 MB). The server started here is the same ASGI app on SQLite,
bound to 127.0.0.1, but the kernel sends it SIGTERM when the process that started
it dies, however it dies (``PR_SET_PDEATHSIG``), and it is stopped when the command
ends.
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

STARTUP_TIMEOUT_SECONDS = 60.0
EXEC_WITH_PARENT_DEATH_SIGNAL = """
import ctypes, os, signal, sys
parent, program, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, kept across exec
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(1)
os.execv(program, [program, *args])
"""
"""``python -c`` program: ``PARENT_PID PROGRAM ARGS...`` runs PROGRAM, which gets SIGTERM when its parent dies."""



@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the API URL that flows run inside this block report to."""
    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    uvicorn = [
        "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]
    server = subprocess.Popen(
        [sys.executable, "-c", EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid()), sys.executable, *uvicorn],
        env={
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
        },
    )
    previous = os.environ.get("PREFECT_API_URL")
    try:
        _wait_healthy(server, url)
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
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
                raise RuntimeError(f"the temporary Prefect server exited with status {server.returncode} while starting")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(f"the temporary Prefect server at {url} did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s")
