"""Child processes that never outlive the work that started them.

A child started by :func:`run_owned` leads a process group of its own. When the
calling thread is interrupted (``KeyboardInterrupt``, an exception raised into it,
a cancelled task), the whole group is killed before the call returns. When the
process that started it dies, however it dies (SIGKILL included), the kernel sends
the child SIGTERM (Linux ``PR_SET_PDEATHSIG``, set by a tiny wrapper that then
``exec``s the command: ``preexec_fn`` is not safe in a process with threads, such
as a Dask worker). The death signal reaches the child itself, not processes it
starts in turn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

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


def with_parent_death_signal(command: Sequence[str]) -> list[str]:
    """``command`` (its program an absolute path) run so that it gets SIGTERM when this process dies."""
    return [sys.executable, "-c", EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid()), *command]


def run_owned(command: Sequence[str], *, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True, env=env)``, the child in a process group of its own
    that is killed whole if this call is interrupted, and sent SIGTERM if this process dies."""
    with subprocess.Popen(
        with_parent_death_signal(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as child:
        try:
            stdout, stderr = child.communicate()
        except BaseException:
            kill_group(child)
            raise
    return subprocess.CompletedProcess(list(command), child.returncode, stdout, stderr)


def kill_group(child: subprocess.Popen) -> None:
    """SIGKILL the process group ``child`` leads (started with ``start_new_session=True``) and reap ``child``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def stop(process: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """SIGTERM ``process``, SIGKILL it if it has not ended within ``timeout`` seconds, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
