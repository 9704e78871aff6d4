"""Process helpers of the ops tests and benches: free ports, a Prefect-free environment, signalling a process tree."""

from __future__ import annotations

import contextlib
import os
import socket
import sys

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EXEC_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)
"""``python -c`` program: ``PROGRAM ARGS...`` runs PROGRAM with SIGINT at its default action."""


def with_default_sigint(command: list[str]) -> list[str]:
    """``command`` (its program an absolute path) run with SIGINT at its default action, whatever this process
    inherited: a suite started as a background job of a non-interactive shell ignores SIGINT, and so would every child,
    which then never stops on the SIGINT a Prefect worker sends itself on SIGTERM."""
    return [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGINT, *command]


def prefect_free_env(**extra: str) -> dict[str, str]:
    """This process's environment without PREFECT_* settings, plus ``extra``."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")} | extra


def signal_tree(pid: int, sig: int) -> list[psutil.Process]:
    """Send ``sig`` to ``pid`` and every process under it (all collected first, so none is orphaned before it is seen),
    as when the machine they run on goes away; the processes signalled."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(sig)
    return processes
