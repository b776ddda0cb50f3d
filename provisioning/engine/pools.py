"""Thread pools for provider calls, kept from one operation to the next.

A worker process runs one operation after another, each with a pool of the
same size. Making a pool per operation costs a thread start for its first
step (the caller waits for the new thread to run) and a join at its end;
under load, with every core busy, that was a few milliseconds of each
operation. A run borrows an idle pool of its size from the shelf (or gets
a new one) and gives it back when it ends with nothing left running on it;
a run that ends any other way shuts its pool down, as before.

A pool is lent to one run at a time, so a run's ``parallelism`` still bounds
its own provider calls. After ``fork`` the child forgets the shelf: the idle
threads it lists exist only in the parent.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


class PoolShelf:
    """Idle pools by size; at most ``keep`` of each size are kept."""

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._idle: dict[int, list[ThreadPoolExecutor]] = {}

    def borrow(self, workers: int) -> ThreadPoolExecutor:
        with self._lock:
            idle = self._idle.get(workers)
            if idle:
                return idle.pop()
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stackdock-step")

    def give_back(self, pool: ThreadPoolExecutor, workers: int) -> None:
        """Keep ``pool`` for the next run; the caller must have collected every
        future it submitted (nothing queued or running on it)."""
        with self._lock:
            idle = self._idle.setdefault(workers, [])
            if len(idle) < self.keep:
                idle.append(pool)
                return
        pool.shutdown(wait=False)

    def idle(self) -> int:
        with self._lock:
            return sum(len(pools) for pools in self._idle.values())

    def forget(self) -> None:
        """Drop every idle pool without touching it (a forked child's pools are
        the parent's: their threads do not run here)."""
        self._lock = threading.Lock()
        self._idle = {}


SHELF = PoolShelf()
os.register_at_fork(after_in_child=SHELF.forget)
