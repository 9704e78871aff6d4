"""``seqmask server start``: Prefect's own server (``prefect server start``) with seqmask's defaults: bound to
127.0.0.1, SQLite under ``PREFECT_HOME`` unless ``SEQMASK_DB_URL`` (or Prefect's
``PREFECT_API_DATABASE_CONNECTION_URL``) names another database such as Postgres, and Prefect's API auth string when
``PREFECT_SERVER_API_AUTH_STRING`` is set."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import NoReturn

DB_URL_ENV = "SEQMASK_DB_URL"
"""A SQLAlchemy URL of the server's database, e.g. ``postgresql+asyncpg://prefect:PASSWORD@HOST:5432/prefect``."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def server_command(host: str, port: int, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The ``prefect server start`` command line and its environment."""
    prefect = shutil.which("prefect", path=os.path.dirname(sys.executable)) or shutil.which("prefect")
    if prefect is None:
        raise FileNotFoundError(
            "the `prefect` command is not installed beside this Python: reinstall seqmask (`make setup`)"
        )
    env = dict(environ)
    if env.get(DB_URL_ENV):
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = env[DB_URL_ENV]
    if host not in LOOPBACK and not env.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise ValueError(
            f"--host {host}: a server reachable beyond this machine needs PREFECT_SERVER_API_AUTH_STRING"
            " (user:password); "
            "set it, or keep the default 127.0.0.1"
        )
    return [prefect, "server", "start", "--host", host, "--port", str(port), "--analytics-off"], env


def start(host: str, port: int) -> NoReturn:
    """Run the server in the foreground (replaces this process)."""
    argv, env = server_command(host, port, os.environ)
    database = (
        "the database of SEQMASK_DB_URL"
        if env.get(DB_URL_ENV)
        else env.get("PREFECT_API_DATABASE_CONNECTION_URL", "SQLite in PREFECT_HOME")
    )
    auth = "on" if env.get("PREFECT_SERVER_API_AUTH_STRING") else "off"
    print(
        f"seqmask: Prefect UI and API on http://{host}:{port}"
        f" (database: {database.split('@')[-1]}; API auth string: {auth})",
        flush=True,
    )
    os.execve(argv[0], argv, env)
