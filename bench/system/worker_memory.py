"""Worker memory (issue 9, item 4).

One Celery worker (prefork, one pool process) runs 1,000 sandbox bucket
provisions (zero latency) queued over the API before it starts. The resident set size
of the pool process that runs them (and of the worker's main process) is
sampled every 50 finished operations. Growth is measured from the end of the
warm-up (the first 100 operations) to the end. Target: <= 10%.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import BenchContext, Figure, Report, Target, current_rss_mb, log
from bench.system.env import running_system
from bench.system.loadgen import ApiClient, post_many
from bench.system.procs import child_pids


@dataclass(frozen=True)
class MemorySizes:
    operations: int = 1000
    warmup: int = 100
    every: int = 50
    timeout: float = 1800.0

    @classmethod
    def quick(cls) -> MemorySizes:
        return cls(operations=8, warmup=2, every=2, timeout=180.0)


def run(ctx: BenchContext) -> Report:
    report = Report("worker_memory", command=ctx.command)
    if not (ctx.pg_url and ctx.redis_url):
        report.note("skipped: needs PostgreSQL and Redis")
        return report
    sizes = MemorySizes.quick() if ctx.quick else MemorySizes()
    prefix = f"mem-{int(time.time()) % 100000}"
    with running_system(ctx, "worker_memory") as system:
        client = ApiClient(system.base_url, system.creds["token"])
        log(f"worker_memory: queueing {sizes.operations} sandbox provisions over the API")
        posted = post_many(
            base_url=system.base_url,
            path="/api/v1/provision",
            bodies=[
                {"dock": "sandbox", "resource_type": "bucket", "spec": {"name": f"{prefix}-{i}"}}
                for i in range(sizes.operations)
            ],
            token=system.creds["token"],
            threads=4,
        )
        queued = sum(1 for r in posted["requests"] if r["status"] == 202)
        # started after the queueing, so that the first samples see its first operations
        worker = system.start_worker("mem", concurrency=1)
        samples = watch(client, worker.pid, queued, sizes.every, sizes.timeout)
        failed = client.count("/api/v1/operations?status=failed&limit=1")
    report.raw = {"sizes": asdict(sizes), "samples": samples}
    if queued < sizes.operations:
        report.note(f"only {queued} of {sizes.operations} provisions were accepted")
    if failed:
        report.note(f"{failed} operations failed")
    if not samples or samples[-1]["done"] < queued:
        report.note("not every operation finished before the timeout")
    _figures(report, sizes, samples)
    return report


def watch(
    client: ApiClient, pid: int, total: int, every: int, timeout: float
) -> list[dict[str, Any]]:
    """RSS of worker ``pid`` and its pool processes each time ``every`` more operations
    finished (polling the API's counts), until all ``total`` have."""
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    next_mark = 0
    while time.monotonic() < deadline:
        done = total - client.unfinished()
        if done >= next_mark or done >= total:
            samples.append(
                {
                    "done": done,
                    "main_mb": current_rss_mb(pid),
                    "pool": {str(c): current_rss_mb(c) for c in child_pids(pid)},
                }
            )
            next_mark = (done // every + 1) * every
        if done >= total:
            break
        time.sleep(0.1)
    return samples


def pool_rss(sample: dict[str, Any]) -> float | None:
    """The pool process's RSS (the largest, should the pool hold several)."""
    return max(sample["pool"].values()) if sample["pool"] else None


def _figures(report: Report, sizes: MemorySizes, samples: list[dict[str, Any]]) -> None:
    pids = {pid for s in samples for pid in s["pool"]}
    if len(pids) > 1:
        report.note(f"the pool process was replaced during the run (pids {sorted(pids)})")
    usable = [s for s in samples if pool_rss(s) is not None]
    warm = [s for s in usable if s["done"] >= sizes.warmup]
    if not warm:
        report.note("no sample after the warm-up")
        return
    after_warmup, last = warm[0], usable[-1]
    for label, pick in (("pool process", pool_rss), ("main process", lambda s: s["main_mb"])):
        start, end = pick(after_warmup), pick(last)
        report.add(
            Figure(
                f"worker RSS after {last['done']:,} operations [{label}]",
                end,
                "MB",
                baseline=start,
                baseline_label=f"after {after_warmup['done']:,} (warm-up)",
                target=Target(1.10, "ratio", "growth <= 10%") if label == "pool process" else None,
                note=f"growth {(end / start - 1) * 100:+.1f}%; "
                f"first sample {pick(usable[0]):.0f} MB at {usable[0]['done']} operations",
            )
        )
