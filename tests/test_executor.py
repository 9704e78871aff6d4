"""The executor's worker gate: calls that become ready together run by priority, never more than the slots."""

from __future__ import annotations

import threading
import time

from seqmask.executor import PriorityGate


def _run_waiters(gate: PriorityGate, priorities: list[int], hold: float) -> tuple[list[int], int]:
    """Start one thread per priority at (almost) the same moment; the order in which they got a slot, and the most
    that held one at once."""
    order: list[int] = []
    holding = [0, 0]  # now, most
    lock = threading.Lock()

    def waiter(priority: int) -> None:
        gate.acquire(priority)
        with lock:
            order.append(priority)
            holding[0] += 1
            holding[1] = max(holding)
        time.sleep(hold)
        with lock:
            holding[0] -= 1
        gate.release()

    threads = [threading.Thread(target=waiter, args=(priority,)) for priority in priorities]
    for thread in threads:
        thread.start()
        time.sleep(0.01)  # arrival order is the list's order: lowest priority first
    for thread in threads:
        thread.join(timeout=30)
    return order, holding[1]


def test_waiters_that_arrive_together_get_slots_by_priority() -> None:
    order, most = _run_waiters(PriorityGate(1, settle=0.2), [1, 2, 0, 4, 3], hold=0.05)
    assert order == [4, 3, 2, 1, 0]
    assert most == 1


def test_no_more_than_the_slots_hold_at_once() -> None:
    order, most = _run_waiters(PriorityGate(2, settle=0.05), [0, 0, 0, 0, 0, 0], hold=0.1)
    assert sorted(order) == [0] * 6
    assert most == 2


def test_equal_priorities_go_in_arrival_order() -> None:
    gate = PriorityGate(1, settle=0.05)
    arrived: list[str] = []
    lock = threading.Lock()

    def waiter(name: str) -> None:
        gate.acquire(0)
        with lock:
            arrived.append(name)
        time.sleep(0.02)
        gate.release()

    threads = [threading.Thread(target=waiter, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=30)
    assert arrived == list("abcd")
