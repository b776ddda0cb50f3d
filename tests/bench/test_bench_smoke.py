"""Each benchmark, run at a tiny size, so the code under bench/ cannot rot.

These check that the benchmarks run end to end and report well-formed
figures; the figures themselves are not asserted (benchmarks never fail the
suite). PostgreSQL is used when DATABASE_URL points at it, in a database of
its own that is dropped afterwards; the system benchmarks (which need
PostgreSQL and Redis) share one started system to stay fast.
"""

from __future__ import annotations

import json
import os

import pytest

from bench import engine
from bench.common import BenchContext, Figure, Target, drop_pg_database, percentile
from bench.system import api, status, throughput, worker_memory
from bench.system.api import ApiSizes
from bench.system.env import shared_system
from bench.terraform import find_terraform


@pytest.fixture
def pg_server_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture
def ctx(tmp_path, pg_server_url):
    db_name = f"stackdock_bench_smoke_{os.getpid()}"
    context = BenchContext(
        pg_url=pg_server_url,
        redis_url=None,
        results_dir=tmp_path / "results",
        var_dir=tmp_path / "var",
        quick=True,
        command="pytest smoke",
        # one database kind is enough to keep the ORM path alive: PostgreSQL when there is one
        options={
            "db_name": db_name,
            "stores": ["memory", "postgres" if pg_server_url else "sqlite"],
        },
    )
    yield context
    if pg_server_url:
        drop_pg_database(pg_server_url, db_name)


def test_figure_ratio_is_value_over_baseline_and_target_checks_the_ratio():
    fig = Figure("x", 2.0, "s", baseline=40.0, target=Target(0.1, "ratio", ">= 10x faster"))
    assert fig.ratio == pytest.approx(0.05)
    assert fig.met is True
    slow = Figure("x", 5.0, "s", baseline=40.0, target=Target(0.1, "ratio"))
    assert slow.met is False


def test_figure_without_baseline_has_no_ratio_and_a_ratio_target_is_undecided():
    fig = Figure("x", 2.0, "s", target=Target(0.1, "ratio"))
    assert fig.ratio is None
    assert fig.met is None


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 95) == 3.0


def test_engine_benchmark_runs_every_store_and_writes_its_figures(ctx, pg_server_url):
    report = engine.run(ctx)

    failures = [n for n in report.notes if "exited" in n or "failed" in n]
    assert failures == []
    stores = ["in-memory", "ORM, PostgreSQL" if pg_server_url else "ORM, SQLite"]
    for store in stores:
        mine = [f for f in report.figures if f.name.endswith(f"[{store}]")]
        assert len(mine) == 8, [f.name for f in mine]
        assert all(f.value > 0 for f in mine)
        assert any(f.name.startswith("peak RSS") for f in mine)
    if find_terraform():
        apply_60 = next(f for f in report.figures if f.name == "apply 60 independent [in-memory]")
        assert apply_60.baseline and apply_60.baseline > 0
        assert apply_60.met is not None
    written = json.loads(report.write(ctx.results_dir).read_text())
    assert written["name"] == "engine"
    assert len(written["figures"]) == len(report.figures)
    assert "ratio" in written["figures"][0] and "target" in written["figures"][0]
    assert "time(60) / time(20)" in report.render()


@pytest.mark.integration
def test_system_benchmarks_run_in_one_shared_system_and_write_their_figures(ctx, pg_server_url):
    redis_url = os.environ.get("STACKDOCK_TEST_REDIS_URL")
    if not (pg_server_url and redis_url):
        pytest.skip("needs PostgreSQL and Redis: run through `make test`")
    ctx.redis_url = redis_url
    with shared_system(ctx, orgs=ApiSizes.quick().orgs):
        # throughput last: it stops the shared workers
        reports = {m.__name__: m.run(ctx) for m in (api, status, worker_memory, throughput)}

    for report in reports.values():
        assert report.figures, (report.name, report.notes)
        written = json.loads(report.write(ctx.results_dir).read_text())
        assert len(written["figures"]) == len(report.figures)
    api_report = reports[api.__name__]
    assert not [n for n in api_report.notes if "statuses" in n]  # every request answered 200
    queries = [f for f in api_report.figures if f.name.startswith("SQL queries")]
    assert len(queries) == 7  # every target but the bare constant
    # a verified token is served from the process cache, so the constant endpoint may make no
    # query at all; every endpoint that reads data makes at least one
    assert all(f.value >= 1 for f in queries if "constant" not in f.name), queries
    assert {f.name.split(":")[0] for f in reports[status.__name__].figures} == {
        "event -> visible in GET /operations/{id}",
        "event -> visible in dashboard status partial",
    }
    assert len(reports[status.__name__].figures) == 4  # two workloads
    throughput_report = reports[throughput.__name__]
    assert not [n for n in throughput_report.notes if "did not succeed" in n]
    ops_per_second = next(f for f in throughput_report.figures if "per second" in f.name)
    assert ops_per_second.value > 0
    assert any("pool process" in f.name for f in reports[worker_memory.__name__].figures)
