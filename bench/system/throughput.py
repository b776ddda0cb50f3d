"""Provisioning throughput through Celery (issue 9, item 2).

``s3-bucket`` provisions submitted over the API (gunicorn), run by 2 Celery
workers (prefork, one process each) on Redis and PostgreSQL against moto
server, everything on this machine.

* **Unloaded** (``sequential`` provisions, one at a time): per operation,
  ``finished_at - created_at`` minus the moto calls (the provider step's own
  duration from its event) is the overhead of queue + claim + engine + state +
  universal row + audit, with nothing else running.
* **Loaded** (500 submitted at once by 4 client threads): operations per
  second from the first ``created_at`` to the last ``finished_at``; and per
  operation the worker's cost beyond moto: the time from the previous
  operation that worker finished to this one's finish (so the Celery
  hand-off is included), minus the moto calls. The median of that is the
  figure with the target (<= 20 ms).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import BenchContext, Figure, Report, Target, log, median, percentile
from bench.system.env import running_system
from bench.system.loadgen import ApiClient, post_many
from bench.system.ops import moto_credentials


@dataclass(frozen=True)
class ThroughputSizes:
    operations: int = 500
    sequential: int = 30
    workers: int = 2
    client_threads: int = 4
    timeout: float = 900.0
    #: operations run in-process under cProfile (workers stopped) to show where time goes
    profiled: int = 10
    #: operations run in-process one by one, timed without a profiler
    timed: int = 30

    @classmethod
    def quick(cls) -> ThroughputSizes:
        return cls(operations=8, sequential=2, timeout=180.0, profiled=1, timed=3)


def run(ctx: BenchContext) -> Report:
    report = Report("throughput", command=ctx.command)
    if not (ctx.pg_url and ctx.redis_url):
        report.note("skipped: needs PostgreSQL and Redis")
        return report
    sizes = ThroughputSizes.quick() if ctx.quick else ThroughputSizes()
    run_id = f"{int(time.time()) % 100000}"
    with running_system(ctx, "throughput", workers=sizes.workers, moto=True) as system:
        client = ApiClient(system.base_url, system.creds["token"])
        dock = moto_dock(client, system.moto_url)
        log(f"throughput: {sizes.sequential} provisions one at a time")
        sequential = []
        for i in range(sizes.sequential):
            op_id = provision(client, dock, f"seq-{run_id}-{i}")
            client.wait_finished(op_id, timeout=120.0)
            sequential.append(op_id)
        log(f"throughput: {sizes.operations} provisions submitted at once")
        posted = post_many(
            base_url=system.base_url,
            path="/api/v1/provision",
            bodies=[bucket(dock, f"tp-{run_id}-{i}") for i in range(sizes.operations)],
            token=system.creds["token"],
            threads=sizes.client_threads,
        )
        ids = [r["id"] for r in posted["requests"] if r["status"] == 202]
        left = client.wait_all_finished(timeout=sizes.timeout)
        system.stop_workers()
        timings = system.child("bench.system.ops:timings", ids=sequential + ids)
        log(f"throughput: profiling {sizes.profiled} operations in-process")
        profile = system.child(
            "bench.system.ops:profile_operations",
            base_url=system.base_url,
            token=system.creds["token"],
            dock=dock,
            count=sizes.profiled + 2,
            timed=sizes.timed,
            prefix=f"prof-{run_id}",
        )
    unloaded_ops = [op for op in timings if op["id"] in set(sequential)]
    loaded_ops = [op for op in timings if op["id"] not in set(sequential)]
    report.raw = {
        "sizes": asdict(sizes),
        "unloaded": unloaded_ops,
        "post_ms": [r["ms"] for r in posted["requests"]],
        "submit_seconds": posted["seconds"],
        "loaded": loaded_ops,
        "profile": profile,
    }
    rejected = len(posted["requests"]) - len(ids)
    if rejected:
        report.note(f"{rejected} provision requests were not accepted (not 202)")
    if left:
        report.note(f"{left} operations were still unfinished at the timeout")
    _figures(report, sizes, unloaded_ops, loaded_ops, posted)
    if profile["own_ms"]:
        report.add(
            Figure(
                "worker's own time per provision in-process, beyond moto (median)",
                median(profile["own_ms"]),
                "ms",
                note=f"{len(profile['own_ms'])} provisions run one by one by operation_run in a "
                "child process: no Celery, no other load; p95 "
                f"{percentile(profile['own_ms'], 95):.1f} ms",
            )
        )
    report.note(profile_summary(profile))
    return report


def profile_summary(profile: dict[str, Any], count: int = 8) -> str:
    """One line: queries per operation and the project functions that cost the most
    (the orchestrator's own frames left out: they contain everything else)."""
    skip = ("orchestrator.py", "operation_run")
    costly = [e for e in profile["project"] if not any(s in e["where"] for s in skip)]
    return (
        f"one provision run in-process makes {profile['queries_per_operation']} SQL queries; "
        f"profiled (no Celery, cProfile on) {profile['ms_per_operation']:.0f} ms per operation, "
        "of which: " + "; ".join(f"{e['where']} {e['ms_per_op']:.1f} ms" for e in costly[:count])
    )


def bucket(dock: str, name: str) -> dict[str, Any]:
    return {"dock": dock, "resource_type": "s3-bucket", "spec": {"name": name}}


def moto_dock(client: ApiClient, moto_url: str) -> str:
    """Connect an AWS dock on moto over the API (its credentials are checked live)."""
    status, dock, _ = client.post(
        "/api/v1/docks",
        {
            "name": "aws-moto",
            "provider": "aws",
            "credentials": moto_credentials(),
            "endpoint_url": moto_url,
        },
    )
    if status != 201:
        raise RuntimeError(f"connecting the moto dock answered {status}")
    return str(dock["id"])


def provision(client: ApiClient, dock: str, name: str) -> int:
    status, receipt, _ = client.post("/api/v1/provision", bucket(dock, name))
    if status != 202:
        raise RuntimeError(f"provision answered {status}")
    return int(receipt["provision_id"])


def unloaded_overheads(ops: list[dict[str, Any]]) -> list[float]:
    """``finished - created - provider`` per succeeded operation, in ms."""
    return [
        (op["finished"] - op["created"]) * 1000 - op["provider_ms"]
        for op in ops
        if op["status"] == "succeeded" and op["finished"]
    ]


def worker_overheads(ops: list[dict[str, Any]]) -> list[float]:
    """Per operation (but each worker's first), ms from the previous finish on the same
    worker to this finish, minus this operation's provider time."""
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in ops:
        if op["status"] == "succeeded" and op["finished"] and op["attempts"] == 1:
            by_worker[op["worker"]].append(op)
    out: list[float] = []
    for done in by_worker.values():
        done.sort(key=lambda op: op["finished"])
        for previous, op in zip(done, done[1:], strict=False):
            # a worker idle between the two (queue empty) does not count as overhead
            if op["started"] <= previous["finished"] + 0.5:
                out.append((op["finished"] - previous["finished"]) * 1000 - op["provider_ms"])
    return out


def _figures(
    report: Report,
    sizes: ThroughputSizes,
    unloaded: list[dict[str, Any]],
    loaded: list[dict[str, Any]],
    posted: dict[str, Any],
) -> None:
    failed = [op for op in unloaded + loaded if op["status"] != "succeeded"]
    if failed:
        report.note(f"{len(failed)} operations did not succeed, e.g. {failed[0]['error']!r}")
    succeeded = [op for op in loaded if op["status"] == "succeeded" and op["finished"]]
    if succeeded:
        span = max(op["finished"] for op in succeeded) - min(op["created"] for op in loaded)
        report.add(
            Figure(
                f"operations per second ({len(succeeded)} s3-bucket provisions, "
                f"{sizes.workers} workers)",
                len(succeeded) / span,
                "ops/s",
                note=f"from the first request to the last finish: {span:.1f} s",
            )
        )
    provider = [op["provider_ms"] for op in succeeded]
    if provider:
        report.add(Figure("moto calls per provision (median)", median(provider), "ms"))
    overheads = worker_overheads(loaded)
    if overheads:
        report.add(
            Figure(
                "overhead per operation under load, beyond moto (median)",
                median(overheads),
                "ms",
                baseline=median(provider) if provider else None,
                baseline_label="the moto calls",
                target=Target(20.0, "value", "<= 20 ms"),
                note=f"p95 {percentile(overheads, 95):.1f} ms over {len(overheads)} operations "
                "(queue hand-off + claim + engine + state + universal row + audit)",
            )
        )
    quiet = unloaded_overheads(unloaded)
    if quiet:
        report.add(
            Figure(
                "overhead per operation unloaded, beyond moto (median)",
                median(quiet),
                "ms",
                target=Target(20.0, "value", "<= 20 ms"),
                note=f"p95 {percentile(quiet, 95):.1f} ms; from the operation's creation "
                "(in the POST) to its finish, minus the moto calls",
            )
        )
    post_ms = [r["ms"] for r in posted["requests"]]
    if post_ms:
        report.add(
            Figure(
                f"POST /provision latency under load, {sizes.client_threads} client threads "
                "(median)",
                median(post_ms),
                "ms",
                note=f"p95 {percentile(post_ms, 95):.1f} ms",
            )
        )
