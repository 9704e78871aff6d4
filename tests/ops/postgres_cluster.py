"""A throw-away PostgreSQL cluster for tests with real parts, and two session fixtures built on it: ``postgres`` (the
running cluster) and ``postgres_prefect_server`` (a real ``seqmask server start`` whose database is that cluster).

A test module imports both fixtures explicitly::

    from postgres_cluster import postgres, postgres_prefect_server  # noqa: F401

The cluster lives in a temp dir, listens on 127.0.0.1 only (password auth over TCP, trust on its private unix socket)
and is removed on exit. Debian's ``postgresql`` package provides it (``make system`` installs it). initdb and postgres
refuse to run as root, so as root they run as the ``postgres`` system user that the package creates."""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
from processes import free_port, prefect_free_env

from seqmask.processes import stop

DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"
"""The system user that runs initdb and postgres when the tests run as root."""
ROLE = DATABASE = "prefect"
"""The cluster's superuser role, and the database it owns (what ``.url`` names)."""
INSTALL_HINT = "install Debian's `postgresql` package: `make system` as root, or `sudo apt-get install -y postgresql`"
COMMAND_TIMEOUT_S = 60
SERVER_START_TIMEOUT_S = 90


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server programs (initdb, pg_ctl, postgres) on this machine."""


def find_bin_dir() -> Path:
    """The bin dir of the newest PostgreSQL under /usr/lib/postgresql, else the one ``pg_config --bindir`` names."""
    debian = [Path(path).parent for path in glob.glob(f"{DEBIAN_BIN_DIRS}/initdb")]
    if debian:
        return max(debian, key=lambda bin_dir: [int(part) for part in re.findall(r"\d+", bin_dir.parent.name)])
    pg_config = shutil.which("pg_config")
    if pg_config:
        bin_dir = Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
        if (bin_dir / "initdb").is_file():
            return bin_dir
    raise PostgresNotInstalled(
        f"PostgreSQL is not installed: no initdb under {DEBIAN_BIN_DIRS} nor in `pg_config --bindir`; {INSTALL_HINT}"
    )


def _service_user() -> pwd.struct_passwd:
    """The ``postgres`` system user, which runs the cluster when this process is root."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise PostgresNotInstalled(
            f"running as root, but there is no `{SERVICE_USER}` user to run PostgreSQL as; {INSTALL_HINT}"
        ) from None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp dir on a free port of 127.0.0.1, with database ``prefect`` owned by role
    ``prefect``.

    A context manager: entering creates and starts it, exiting stops it and removes its directory."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.owner = _service_user() if os.geteuid() == 0 else None
        """The user the cluster runs as when this process is root; None when it runs as this process's user."""
        self.password = secrets.token_hex(16)
        self.port = free_port()
        self.root: Path | None = None
        """The temp dir (the data dir, the unix socket, the server log) while entered."""

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The postmaster's log file."""
        return self.root / "postgres.log"

    @property
    def dsn(self) -> str:
        """A libpq/asyncpg URL of the ``prefect`` database."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``prefect`` database (what ``SEQMASK_DB_URL`` takes)."""
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    def __enter__(self) -> Self:
        self.root = Path(tempfile.mkdtemp(prefix="seqmask-postgres-"))
        try:
            if self.owner is not None:
                os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
            self._initdb()
            self.start()
            self._run("createdb", "--host", str(self.root), "--port", str(self.port), "--username", ROLE, DATABASE)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate", "--wait")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        self._run(
            "pg_ctl",
            "start",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log),
            "--wait",
            f"--timeout={COMMAND_TIMEOUT_S}",
        )

    def stop(self) -> None:
        """Stop the postmaster (fast: open transactions roll back, clients are disconnected)."""
        self._run(
            "pg_ctl",
            "stop",
            "--pgdata",
            str(self.data_dir),
            "--mode",
            "fast",
            "--wait",
            f"--timeout={COMMAND_TIMEOUT_S}",
        )

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: stop as :meth:`stop` does, start again, wait until it accepts connections."""
        self._run(
            "pg_ctl",
            "restart",
            "--pgdata",
            str(self.data_dir),
            "--mode",
            "fast",
            "--log",
            str(self.log),
            "--wait",
            f"--timeout={COMMAND_TIMEOUT_S}",
        )

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """The rows of ``sql`` run in the ``prefect`` database over TCP, as dicts."""
        import asyncpg

        async def fetch() -> list[dict[str, Any]]:
            connection = await asyncpg.connect(self.dsn, timeout=10)
            try:
                return [dict(row) for row in await connection.fetch(sql, *args)]
            finally:
                await connection.close()

        return asyncio.run(fetch())

    def _initdb(self) -> None:
        """Create the cluster: superuser ``prefect`` with :attr:`password`, loopback-only, unsafe-but-fast
        durability."""
        password_file = self.root / "password"
        password_file.write_text(self.password)
        try:
            self._run(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                ROLE,
                f"--pwfile={password_file}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
        finally:
            password_file.unlink()
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        (self.data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")

    def _run(self, program: str, *args: str) -> None:
        """Run one of PostgreSQL's programs (as the ``postgres`` user when root); a failure raises with its output and
        the log."""
        argv = [str(self.bin_dir / program), *args]
        if self.owner is not None:
            argv = ["runuser", "-u", self.owner.pw_name, "--", *argv]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        done = subprocess.run(
            argv, check=False, cwd=self.root, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S + 30
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"\npostgres log:\n{log}"
            )


def wait_for_health(
    api_url: str, server: subprocess.Popen, log: Path, timeout_s: float = SERVER_START_TIMEOUT_S
) -> None:
    """Wait until the Prefect API at ``api_url`` answers /health; raises with the server's log if it exits or never
    does."""
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            raise RuntimeError(
                f"the Prefect server exited ({server.returncode}):\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the Prefect server did not answer within {timeout_s} s:\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.5)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """The running throw-away cluster; fails with an install hint when PostgreSQL is missing."""
    try:
        cluster = ThrowawayPostgres()
    except PostgresNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_prefect_server(postgres: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API URL of a real ``seqmask server start`` on a free port whose database is ``postgres``."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    log = home / "server.log"
    env = prefect_free_env(PREFECT_HOME=str(home), SEQMASK_DB_URL=postgres.url)
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "seqmask.cli", "server", "start", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        api_url = f"http://127.0.0.1:{port}/api"
        wait_for_health(api_url, server, log)
        yield api_url
    finally:
        stop(server, timeout=30)
