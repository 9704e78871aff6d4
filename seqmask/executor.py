"""Parallel map for stages: on a Dask cluster when a client is attached, a plain loop otherwise."""

from __future__ import annotations

import functools
import heapq
import itertools
import pickle
import re
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm.auto import tqdm

from seqmask.schema import require

LOCAL_WORKER_ENV = {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Dask sets MALLOC_TRIM_THRESHOLD_=65536 in workers to return memory eagerly; with the
large short-lived audio arrays of data prep that doubles decode+resample time
(bench/prep_throughput.py), so seqmask's LocalCluster workers keep glibc's default.
Each worker is one thread, and torch in it too: two trainings on two workers use the two
cores better than one training on both (and a stage's numbers do not depend on where it ran)."""


@dataclass(frozen=True, kw_only=True)
class OrchestrationConfig:
    """How stages run; never part of an artifact key."""

    dask_workers: int = 2
    """Worker processes of the default Dask LocalCluster."""
    dask_address: str | None = None
    """``tcp://host:8786`` of an existing Dask scheduler; None starts a LocalCluster."""
    retries: int = 1
    """Prefect retries of a stage that failed for a transient reason (I/O, lost worker)."""
    retry_delay_seconds: float = 5.0
    """Delay before such a retry."""

    def validate(self) -> None:
        require(self.dask_workers >= 1, "dask_workers", ">= 1", self.dask_workers)
        address = self.dask_address
        require(
            address is None or bool(re.fullmatch(r"[a-z+]+://\S+", address)),
            "dask_address",
            "a scheduler address such as tcp://host:8786",
            address,
        )
        require(self.retries >= 0, "retries", ">= 0", self.retries)
        require(self.retry_delay_seconds >= 0, "retry_delay_seconds", ">= 0", self.retry_delay_seconds)


GPU_RESOURCE = "GPU"
"""The Dask worker resource a GPU stage asks for."""

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[str, int, int], None]
"""Called as ``(description, done, total)`` after every finished item."""
ITEM_REPR_CHARS = 300
"""How much of a mapped item an error message shows."""


class MappedItemFailed(RuntimeError):
    """A mapped function raised an error that cannot travel back from a Dask worker as it is (it does not pickle); its
    type and message, the item it was mapped over and the worker's traceback, as text."""

    def __str__(self) -> str:
        item, error, trace = self.args
        return f"{error} (mapping over {item})\non the worker:\n{trace}"


class WorkerLost(ConnectionError):
    """The Dask worker running a mapped item died (Dask's ``KilledWorker``); a transient error, retried like a lost
    connection."""


def describe_item(item: Any) -> str:
    """A mapped item as an error message shows it: its repr, cut to :data:`ITEM_REPR_CHARS`."""
    text = repr(item)
    return text if len(text) <= ITEM_REPR_CHARS else text[:ITEM_REPR_CHARS] + "..."


def run_item(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)``; its error names the item (a note)."""
    try:
        return fn(item)
    except Exception as err:
        err.add_note(f"mapping over {describe_item(item)}")
        raise


def run_item_on_worker(fn: Callable[[T], R], item: T) -> R:
    """:func:`run_item` on a Dask worker, whose error always comes back: without its traceback, which the worker would
    pickle too (one from a deep recursion cannot be, and then the task never ends), its text kept in the note; as
    :class:`MappedItemFailed` when the error itself does not pickle."""
    try:
        return fn(item)
    except Exception as err:
        trace = "".join(traceback.format_exception(err, limit=-5))
        error = err.with_traceback(None)
        error.add_note(f"mapping over {describe_item(item)}\non the worker:\n{trace}")
        try:
            pickle.dumps(error)
        except Exception:
            error = MappedItemFailed(describe_item(item), f"{type(err).__name__}: {err}", trace)
    raise error


def local_cluster(n_workers: int) -> Any:
    """A Dask LocalCluster of single-threaded worker processes, tuned for data prep."""
    import dask
    from distributed import LocalCluster

    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **LOCAL_WORKER_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


class PriorityGate:
    """At most ``slots`` holders at once; a free slot goes to the waiter of highest priority (first come among equals).

    A slot is granted only once no new waiter has arrived for ``settle`` seconds, so that calls which become ready at
    the same moment (several trainings after one data stage) are ordered by priority, not by which thread ran first.
    """

    def __init__(self, slots: int, *, settle: float = 0.5) -> None:
        self._free = slots
        self._settle = settle
        self._waiting: list[tuple[int, int]] = []  # heap of (-priority, arrival number)
        self._arrivals = itertools.count()
        self._last_arrival = 0.0
        self._changed = threading.Condition()

    def acquire(self, priority: int) -> None:
        with self._changed:
            ticket = (-priority, next(self._arrivals))
            heapq.heappush(self._waiting, ticket)
            self._last_arrival = time.monotonic()
            self._changed.notify_all()
            while True:
                quiet_for = time.monotonic() - self._last_arrival
                if self._free > 0 and self._waiting[0] == ticket and quiet_for >= self._settle:
                    break
                self._changed.wait(timeout=max(self._settle - quiet_for, 0.01) if self._free > 0 else None)
            heapq.heappop(self._waiting)
            self._free -= 1
            self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot."""
        with self._changed:
            return len(self._waiting)


class Executor:
    """Maps a pure function over items, in order, with a progress bar and callback.

    ``connect`` makes the Dask client on the first ``map``, so a run whose stages are
    all reused never starts a cluster.
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        connect: Callable[[], Any] | None = None,
        on_progress: ProgressFn | None = None,
        show_bars: bool = True,
    ) -> None:
        self._client = client
        self._connect = connect
        self._connecting = threading.Lock()  # stages in several threads may ask for the client at once
        self._worker_slots: PriorityGate | None = None
        self.on_progress = on_progress
        self.show_bars = show_bars

    @property
    def client(self) -> Any | None:
        """The Dask client, connected on first use; None for a plain loop."""
        with self._connecting:
            if self._client is None and self._connect is not None:
                self._client = self._connect()
        return self._client

    def call(self, fn: Callable[..., R], *args: Any, priority: int = 0, gpu: bool = False) -> R:
        """``fn(*args)`` in a worker thread of the Dask cluster when attached, here otherwise; blocking.

        Calls wait for a free worker thread in this process: among those waiting, the highest ``priority`` goes first.
        A ``gpu`` call runs on a worker with a ``GPU`` resource (``dask worker --resources GPU=1``) when the cluster
        has one, on any worker otherwise.
        """
        if self.client is None:
            return fn(*args)
        resources = {GPU_RESOURCE: 1} if gpu and self._has_gpu_workers() else None
        slots = self._slots()
        slots.acquire(priority)
        try:
            return self.client.submit(fn, *args, pure=False, priority=priority, resources=resources).result()
        finally:
            slots.release()

    def _has_gpu_workers(self) -> bool:
        workers = self.client.scheduler_info()["workers"].values()
        return any(worker.get("resources", {}).get(GPU_RESOURCE, 0) > 0 for worker in workers)

    def _slots(self) -> PriorityGate:
        with self._connecting:
            if self._worker_slots is None:
                workers = self._client.scheduler_info()["workers"].values()
                self._worker_slots = PriorityGate(max(sum(worker["nthreads"] for worker in workers), 1))
        return self._worker_slots

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str) -> list[R]:
        """``[fn(item) for item in items]``, in parallel on Dask when attached."""
        total = len(items)
        with tqdm(total=total, desc=desc, unit="task", disable=not self.show_bars or total == 0) as bar:
            if self.client is None:
                results = []
                for item in items:
                    results.append(run_item(fn, item))
                    self._advance(bar, desc, len(results), total)
                return results
            return self._map_on_dask(fn, items, bar, desc)

    def _map_on_dask(self, fn: Callable[[T], R], items: Sequence[T], bar: tqdm, desc: str) -> list[R]:
        from dask.utils import funcname
        from distributed import KilledWorker, as_completed

        # tasks keep the mapped function's name (``key``) on the dashboard and in task streams, not the wrapper's
        futures = self.client.map(functools.partial(run_item_on_worker, fn), items, key=funcname(fn), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            for done, future in enumerate(as_completed(futures, loop=self.client.loop), start=1):
                try:
                    results[index[future.key]] = future.result()
                except KilledWorker as err:
                    item = describe_item(items[index[future.key]])
                    raise WorkerLost(f"{desc}: the Dask worker mapping over {item} died ({err})") from err
                self._advance(bar, desc, done, len(items))
        finally:
            self.client.cancel(futures)
        return results

    def _advance(self, bar: tqdm, desc: str, done: int, total: int) -> None:
        bar.update(1)
        if self.on_progress is not None:
            self.on_progress(desc, done, total)
