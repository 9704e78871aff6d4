"""A mapped function's error always comes back, naming the item: never a hang, whatever the error."""

from __future__ import annotations

import concurrent.futures
import os
import threading

import pytest
from distributed import Client

from seqmask.executor import Executor, MappedItemFailed, WorkerLost, local_cluster
from seqmask.stage import StageFailed

HANG_BOUND_SECONDS = 300
"""A map that has not answered by then hangs (a failing item answers within seconds, on a busy machine too)."""


def _recurse(depth: int) -> int:
    return _recurse(depth + 1)


def recurse_on_three(item: int) -> int:
    """A deep recursion (what a recursive parser does with a deeply nested file) on item 3."""
    return _recurse(0) if item == 3 else item


class Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def unpicklable_error_on_two(item: int) -> int:
    if item == 2:
        raise Unpicklable()
    return item


def die_on_one(item: int) -> int:
    if item == 1:
        os._exit(1)
    return item


def _map_within_bound(executor: Executor, fn, items: list[int]) -> list[int]:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(executor.map, fn, items, desc="clips").result(timeout=HANG_BOUND_SECONDS)


def test_a_recursion_error_on_a_dask_worker_comes_back_naming_the_item(dask_address):
    # Before: the worker could not pickle the deep traceback and the map waited forever.
    with Client(dask_address, set_as_default=False) as client:
        with pytest.raises(RecursionError) as raised:
            _map_within_bound(Executor(client, show_bars=False), recurse_on_three, [0, 1, 2, 3, 4])
    (note,) = raised.value.__notes__
    assert note.startswith("mapping over 3\non the worker:\n") and "_recurse" in note  # the worker's traceback, as text
    assert str(StageFailed("motion-prep", raised.value)).endswith(
        "RecursionError: maximum recursion depth exceeded (mapping over 3)"
    )


def test_an_error_that_does_not_pickle_comes_back_as_text_naming_the_item(dask_address):
    with Client(dask_address, set_as_default=False) as client:
        with pytest.raises(MappedItemFailed, match=r"Unpicklable: holds a lock \(mapping over 2\)"):
            _map_within_bound(Executor(client, show_bars=False), unpicklable_error_on_two, [0, 1, 2])


def test_a_plain_loop_names_the_item_too():
    with pytest.raises(RecursionError) as raised:
        Executor(show_bars=False).map(recurse_on_three, [3], desc="clips")
    assert raised.value.__notes__ == ["mapping over 3"]


def test_a_worker_that_dies_is_a_transient_error_naming_the_item():
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with local_cluster(1) as cluster, Client(cluster, set_as_default=False) as client:
            with pytest.raises(WorkerLost, match=r"clips: the Dask worker mapping over 1 died"):
                _map_within_bound(Executor(client, show_bars=False), die_on_one, [1])
