"""Status latency (issue 9, item 3).

One Celery worker runs stack deploys of sandbox resources in a chain (each
step waits ``latency_ms``), so events appear one by one over a few seconds:
short steps (250 ms), and slow steps (3 s, longer than anything buffers an
event for) to show whether a step's "started" is visible while it runs.
Two pollers per operation, at the dashboard's own polling interval (read from
the status partial's ``hx-trigger``), measure each event's latency from the
moment the worker recorded it (its ``at``) to the first poll that showed it:
one on ``GET /api/v1/operations/{id}``, one on the dashboard's status partial.

Expected shape: the worker's event buffer (flushed at most every 0.2 s) plus
up to one polling interval. Target: p95 <= 1 s.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import BenchContext, Figure, Report, Target, log, median, percentile
from bench.system.env import running_system
from bench.system.statuswatch import watch


@dataclass(frozen=True)
class Workload:
    """``operations`` deploys of ``resources`` chained sandbox buckets of ``latency_ms`` each."""

    label: str
    operations: int
    resources: int
    latency_ms: int


@dataclass(frozen=True)
class StatusSizes:
    workloads: tuple[Workload, ...] = (
        Workload("short steps", operations=8, resources=12, latency_ms=250),
        # a step longer than the event buffer's flush period: is "started" seen while it runs?
        Workload("slow steps", operations=2, resources=2, latency_ms=3000),
    )
    timeout: float = 120.0

    @classmethod
    def quick(cls) -> StatusSizes:
        return cls(
            workloads=(
                Workload("short steps", operations=1, resources=2, latency_ms=50),
                Workload("slow steps", operations=1, resources=1, latency_ms=400),
            ),
            timeout=60.0,
        )


def run(ctx: BenchContext) -> Report:
    report = Report("status", command=ctx.command)
    if not (ctx.pg_url and ctx.redis_url):
        report.note("skipped: needs PostgreSQL and Redis")
        return report
    sizes = StatusSizes.quick() if ctx.quick else StatusSizes()
    stamp = int(time.time()) % 100000
    results = {}
    with running_system(ctx, "status", workers=1) as system:
        for i, load in enumerate(sizes.workloads):
            log(
                f"status: {load.operations} deploys of {load.resources} chained resources "
                f"of {load.latency_ms} ms"
            )
            results[load.label] = watch(
                base_url=system.base_url,
                token=system.creds["token"],
                session=system.creds["session"],
                operations=load.operations,
                resources=load.resources,
                latency_ms=load.latency_ms,
                prefix=f"status-{stamp}-{i}",
                timeout=sizes.timeout,
            )
    report.raw = {"sizes": asdict(sizes), "workloads": results}
    for load in sizes.workloads:
        _figures(report, load, results[load.label])
    return report


def _figures(report: Report, load: Workload, watched: dict[str, Any]) -> None:
    interval = watched["interval"] or 1.0
    if watched["errors"]:
        report.note(f"{load.label}: poll errors {sorted(set(watched['errors']))}")
    for name, key in (
        ("GET /operations/{id}", "api_ms"),
        ("dashboard status partial", "partial_ms"),
    ):
        values = watched[key]
        if not values:
            report.note(f"{load.label}, {name}: no events seen")
            continue
        report.add(
            Figure(
                f"event -> visible in {name}: p95 [{load.label}, {load.latency_ms} ms]",
                percentile(values, 95) / 1000,
                "s",
                baseline=interval,
                baseline_label="polling interval",
                target=Target(1.0, "value", "<= 1 s"),
                note=f"median {median(values):.0f} ms, max {max(values):.0f} ms, "
                f"{len(values)} events; polling every {interval:g} s (the partial's hx-trigger)",
            )
        )
