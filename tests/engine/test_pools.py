"""Step thread pools are kept between runs (a worker runs one operation after another)."""

from __future__ import annotations

import os
import threading

import pytest

from docks.adapters.sandbox.adapter import SimulatedCrash
from provisioning.engine import orchestrator as orchestrator_module
from provisioning.engine import pools as pools_module
from provisioning.engine.pools import PoolShelf

from .conftest import assert_consistent, doc, res


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch) -> PoolShelf:
    """A shelf of this test's own, and the thread each step ran on."""
    fresh = PoolShelf()
    monkeypatch.setattr(orchestrator_module, "SHELF", fresh)
    return fresh


@pytest.fixture
def step_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    run_step = orchestrator_module._run_step

    def recording(step, notify):
        seen.append(threading.get_ident())
        return run_step(step, notify)

    monkeypatch.setattr(orchestrator_module, "_run_step", recording)
    return seen


def test_consecutive_runs_use_the_same_step_thread(
    make_orch, parse, store, backend, shelf, step_threads
) -> None:
    for i in range(3):  # each run adds one bucket: one step per run
        buckets = {f"b{n}": res("bucket", name=f"b{n}") for n in range(i + 1)}
        result = make_orch(parallelism=4).apply(parse(doc(**buckets)), holder="op")
        assert result.status == "succeeded" and result.summary["created"] == 1
        assert shelf.idle() == 1
    assert len(step_threads) == 3
    assert len(set(step_threads)) == 1, "each run started a thread of its own"
    assert_consistent(store, backend, "s")


def test_a_run_that_ends_with_a_step_running_does_not_give_its_pool_back(
    make_orch, parse, shelf, step_threads
) -> None:
    stack = parse(
        doc(
            crash=res("bucket", name="c", fail="crash-after-create"),
            slow=res("bucket", name="s", latency_ms=50),
        )
    )
    with pytest.raises(SimulatedCrash):
        make_orch(parallelism=4).apply(stack, holder="op")
    assert shelf.idle() == 0
    # the crash may end the run before the slow step was handed to a thread
    assert 1 <= len(step_threads) <= 2
    alive = {t.ident for t in threading.enumerate()}
    assert not alive & set(step_threads), "the crashed run's pool was not shut down"


def test_a_lent_pool_belongs_to_one_run_at_a_time() -> None:
    shelf = PoolShelf(keep=2)
    first, second = shelf.borrow(4), shelf.borrow(4)
    assert first is not second
    shelf.give_back(first, 4)
    assert shelf.borrow(4) is first  # idle again: lent to the next run
    assert shelf.borrow(2) is not second  # another size is another pool
    shelf.give_back(first, 4)
    shelf.give_back(second, 4)
    third = shelf.borrow(4)
    shelf.give_back(third, 4)
    assert third in (first, second)
    extra = pools_module.ThreadPoolExecutor(max_workers=4)
    shelf.give_back(extra, 4)  # a third idle pool of one size is shut down, not kept
    assert shelf.idle() == 2
    assert extra._shutdown  # noqa: SLF001 - the executor exposes no public flag
    for pool in (first, second):
        pool.shutdown()


def test_a_forked_child_forgets_the_parents_idle_pools() -> None:
    pool = pools_module.SHELF.borrow(3)
    pool.submit(lambda: None).result()  # a live thread in this process
    pools_module.SHELF.give_back(pool, 3)
    assert pools_module.SHELF.idle() >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its shelf must be empty, and a new pool must work
        try:
            idle = pools_module.SHELF.idle()
            works = pools_module.SHELF.borrow(3).submit(lambda: 42).result(timeout=5) == 42
            os.write(write, f"{idle} {works}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    assert answer == "0 True"
