"""A stage that wants a GPU builds on a Dask worker that advertises a ``GPU`` resource, when the cluster has one, and
on any worker when none does (it must not wait forever on a CPU-only cluster). Real external workers."""

from __future__ import annotations

import os

from dask_processes import external_dask
from distributed import Client

from seqmask.executor import Executor


def pids_of_calls(address: str, *, gpu: bool, calls: int = 6) -> set[int]:
    """The worker processes ``calls`` blocking ``Executor.call``s ran in."""
    with Client(address, set_as_default=False) as client:
        executor = Executor(client, show_bars=False)
        return {executor.call(os.getpid, gpu=gpu) for _ in range(calls)}


def test_gpu_calls_go_to_the_gpu_worker_and_others_anywhere(tmp_path) -> None:
    with external_dask(2, tmp_path / "mixed", gpu_workers={"w1"}) as cluster:
        gpu_worker = cluster.workers["w1"].pid
        assert pids_of_calls(cluster.address, gpu=True) == {gpu_worker}
        assert pids_of_calls(cluster.address, gpu=False, calls=20) <= {cluster.workers["w0"].pid, gpu_worker}
    with external_dask(1, tmp_path / "cpu-only") as cluster:
        assert pids_of_calls(cluster.address, gpu=True) == {cluster.workers["w0"].pid}
