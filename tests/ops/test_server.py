"""``seqmask server start``: a real Prefect server on 127.0.0.1 (SQLite in a temp PREFECT_HOME) that honours the API
auth string, and a refusal to listen beyond loopback without one."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from processes import free_port

from seqmask.cli import main


def test_the_server_listens_on_loopback_and_honours_the_auth_string(tmp_path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_API_AUTH_STRING": "admin:s3cret"}
    server = subprocess.Popen([sys.executable, "-m", "seqmask.cli", "server", "start", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 90 s"
            time.sleep(0.5)
        assert httpx.post(f"{url}/flows/filter", json={}, timeout=10).status_code == 401
        token = base64.b64encode(b"admin:s3cret").decode()
        assert httpx.post(f"{url}/flows/filter", json={}, headers={"Authorization": f"Basic {token}"}, timeout=10).status_code == 200
        other = _non_loopback_address()
        if not other.startswith("127."):
            with pytest.raises(httpx.ConnectError):  # bound to loopback only: another local address is refused
                httpx.get(f"http://{other}:{port}/api/health", timeout=2)
    finally:
        server.terminate()
        server.wait(timeout=30)


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
