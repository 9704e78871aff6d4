"""The executor's worker gate: calls that wait together run by priority, never more than the slots.

Arrivals are made deterministic (each waiter is queued before the next starts, while the test holds the slot), so no
outcome depends on how fast threads start on a busy machine; the settle window is checked by a lower bound on time.
"""

from __future__ import annotations

import threading
import time

from seqmask.executor import PriorityGate

WAIT_SECONDS = 60.0
"""Upper bound on any wait here (a busy machine answers in milliseconds)."""


def _wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the gate did not get there"
        time.sleep(0.005)


def _order_behind_a_held_slot(gate: PriorityGate, waiters: list[tuple[str, int]]) -> list[str]:
    """Hold the gate's one slot, queue the ``(name, priority)`` waiters in list order (each queued before the next
    starts), release; the names in the order the waiters got the slot."""
    order: list[str] = []
    gate.acquire(0)

    def waiter(name: str, priority: int) -> None:
        gate.acquire(priority)
        order.append(name)
        gate.release()

    threads = []
    for queued, (name, priority) in enumerate(waiters, start=1):
        threads.append(threading.Thread(target=waiter, args=(name, priority)))
        threads[-1].start()
        _wait_until(lambda queued=queued: gate.waiting == queued)
    gate.release()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    return order


def test_waiters_get_a_freed_slot_by_priority() -> None:
    waiters = [(str(priority), priority) for priority in (1, 2, 0, 4, 3)]
    assert _order_behind_a_held_slot(PriorityGate(1, settle=0.01), waiters) == ["4", "3", "2", "1", "0"]


def test_equal_priorities_keep_their_arrival_order() -> None:
    assert _order_behind_a_held_slot(PriorityGate(1, settle=0.01), [(name, 0) for name in "abcd"]) == list("abcd")


def test_a_free_slot_is_granted_only_after_settle_seconds_without_arrivals() -> None:
    gate = PriorityGate(1, settle=0.3)
    started = time.monotonic()
    gate.acquire(0)
    assert time.monotonic() - started >= 0.3  # a lower bound: load can only make it later


def test_no_more_than_the_slots_hold_at_once() -> None:
    gate = PriorityGate(2, settle=0.01)
    holding, most, lock = [0], [0], threading.Lock()

    def waiter() -> None:
        gate.acquire(0)
        with lock:
            holding[0] += 1
            most[0] = max(most[0], holding[0])
        _wait_until(lambda: most[0] >= 2)  # hold until two held at once: the gate must allow that, and no more
        with lock:
            holding[0] -= 1
        gate.release()

    threads = [threading.Thread(target=waiter) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    assert most[0] == 2 and holding[0] == 0
