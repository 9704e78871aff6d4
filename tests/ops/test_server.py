"""``seqmask server start``: a real Prefect server on 127.0.0.1 (SQLite in a temp PREFECT_HOME) that honours the API
auth string, and a refusal to listen beyond loopback without one."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import free_port, prefect_free_env

from seqmask.cli import main

AUTH_STRING = "admin:s3cret"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A real ``seqmask server start`` on 127.0.0.1 (SQLite in a temp PREFECT_HOME) with an API auth string: its API
    URL and port, once it answers."""
    port = free_port()
    home = tmp_path_factory.mktemp("prefect-home")
    env = prefect_free_env(PREFECT_HOME=str(home), PREFECT_SERVER_API_AUTH_STRING=AUTH_STRING)
    with open(home / "server.log", "w") as log:  # a file, not a pipe: nothing reads the server's output while tests run
        server = subprocess.Popen(
            [sys.executable, "-m", "seqmask.cli", "server", "start", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/api"
        _wait_healthy(server, url, home / "server.log")
        yield url, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_healthy(server: subprocess.Popen, url: str, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"the server did not answer within {timeout_s:.0f} s"
        time.sleep(0.5)


def test_the_server_listens_on_loopback_and_honours_the_auth_string(auth_server) -> None:
    url, port = auth_server
    assert httpx.post(f"{url}/flows/filter", json={}, timeout=10).status_code == 401
    token = base64.b64encode(AUTH_STRING.encode()).decode()
    assert (
        httpx.post(f"{url}/flows/filter", json={}, headers={"Authorization": f"Basic {token}"}, timeout=10).status_code
        == 200
    )
    other = _non_loopback_address()
    if not other.startswith("127."):
        with pytest.raises(httpx.ConnectError):  # bound to loopback only: another local address is refused
            httpx.get(f"http://{other}:{port}/api/health", timeout=2)


@pytest.mark.parametrize(
    ("auth_string", "found"),
    [
        (None, "PREFECT_API_AUTH_STRING is not set"),
        ("admin:wrong", "PREFECT_API_AUTH_STRING is set, but the server refused it"),
    ],
)
def test_deploy_to_a_server_that_wants_an_auth_string_says_so(
    auth_server, tmp_path, capsys, auth_string, found
) -> None:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    url, _ = auth_server
    deployments = tmp_path / "deployments.yaml"
    deployments.write_text("deployments: [{flow: speech-prep, preset: tiny}]\n")
    with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth_string}):
        assert main(["deploy", "--file", str(deployments)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"seqmask: error: the Prefect server at {url} wants an API auth string (401 Unauthorized): {found}; set "
        "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING (user:password)\n"
    )


def _non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
        return sock.getsockname()[0]


def test_seqmask_db_url_becomes_the_servers_database() -> None:
    from flows.server import server_command

    argv, env = server_command("127.0.0.1", 4300, {"SEQMASK_DB_URL": "postgresql+asyncpg://prefect:pw@db:5432/prefect"})
    assert argv[1:] == ["server", "start", "--host", "127.0.0.1", "--port", "4300", "--analytics-off"]
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == "postgresql+asyncpg://prefect:pw@db:5432/prefect"
    assert "PREFECT_API_DATABASE_CONNECTION_URL" not in server_command("127.0.0.1", 4300, {})[1]


def test_a_public_bind_without_auth_string_is_refused(capsys, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    assert main(["server", "start", "--host", "0.0.0.0"]) == 2
    assert "needs PREFECT_SERVER_API_AUTH_STRING" in capsys.readouterr().err
