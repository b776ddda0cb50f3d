"""Child-process helpers of the provisioning benchmarks (Django on the bench database)."""

from __future__ import annotations

import time
from typing import Any

from bench.common import ROOT, setup_django

#: an access key moto accepts (it checks nothing by default); not a real credential
MOTO_KEY_ID = "AKIABENCHMARK0000000"
MOTO_SECRET = "bench-not-a-secret"  # noqa: S105 - moto accepts anything


def moto_credentials() -> dict[str, Any]:
    """AWS credentials for moto (which checks none by default): not real ones."""
    return {
        "access_key_id": MOTO_KEY_ID,
        "secret_access_key": MOTO_SECRET,
        "region": "us-east-1",
        "sync_regions": ["us-east-1"],
    }


def timings(*, ids: list[int]) -> list[dict[str, Any]]:
    """Per operation: status, timestamps (epoch seconds), worker and provider time.

    ``provider_ms`` is the sum of the resource steps' own durations (the
    adapter calls: for an ``s3-bucket`` the moto calls), from their events.
    """
    setup_django()
    from django.db.models import Q, Sum

    from provisioning.models import Operation

    ops = (
        Operation.objects.filter(pk__in=ids)
        .annotate(
            provider_ms=Sum(
                "events__duration_ms",
                filter=~Q(events__resource="") & Q(events__status__in=["succeeded", "failed"]),
            )
        )
        .order_by("pk")
    )
    return [
        {
            "id": op.pk,
            "status": op.status,
            "created": op.created_at.timestamp(),
            "started": op.started_at.timestamp() if op.started_at else None,
            "finished": op.finished_at.timestamp() if op.finished_at else None,
            "worker": op.worker,
            "attempts": op.attempts,
            "provider_ms": op.provider_ms or 0,
            "error": op.error[:200],
        }
        for op in ops
    ]


def profile_operations(
    *,
    base_url: str,
    token: str,
    dock: str,
    count: int,
    prefix: str,
    timed: int = 0,
    top: int = 25,
) -> dict[str, Any]:
    """Where a worker's time goes: queue ``count + timed`` provisions over the API
    while no worker runs, then run them here, one by one: one warm-up, one with its
    SQL queries counted, ``timed`` timed one by one (wall time minus the moto calls:
    the worker's own time without Celery or CPU contention), the rest under cProfile.

    Returns the wall time per operation and the top functions by cumulative time
    (``file:line(function)`` and seconds per operation). Call it with the workers
    stopped, or they will take the operations first.
    """
    setup_django()
    import cProfile
    import pstats

    from bench.system.loadgen import post_json
    from provisioning.runner import operation_run

    ids = []
    for i in range(count + timed):
        body = {"dock": dock, "resource_type": "s3-bucket", "spec": {"name": f"{prefix}-{i}"}}
        status, payload, _ = post_json(base_url, "/api/v1/provision", body, token)
        if status != 202:
            raise RuntimeError(f"provision answered {status}")
        ids.append(int(payload["provision_id"]))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    operation_run(ids[0], worker="bench-profile")  # warm-up: imports, first connections
    with CaptureQueriesContext(connection) as queries:
        operation_run(ids[1], worker="bench-profile")
    ids = ids[1:]
    own_ms = []
    for op_id in ids[1 : 1 + timed]:
        started = time.perf_counter()
        operation_run(op_id, worker="bench-profile")
        wall = (time.perf_counter() - started) * 1000
        own_ms.append(wall - timings(ids=[op_id])[0]["provider_ms"])
    ids = ids[timed:]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for op_id in ids[1:]:
        operation_run(op_id, worker="bench-profile")
    profiler.disable()
    per_op = (time.perf_counter() - started) / max(1, len(ids) - 1)
    stats = pstats.Stats(profiler)
    runs = max(1, len(ids) - 1)
    cumulative, own, project = [], [], []
    for (filename, line, func), entry in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{_short(filename)}:{line}({func})"
        cumulative.append((entry[3] / runs * 1000, where))
        own.append((entry[2] / runs * 1000, where))
        if filename.startswith(f"{ROOT}/") and "/.venv/" not in filename:
            project.append((entry[3] / runs * 1000, where))
    cumulative.sort(reverse=True)
    own.sort(reverse=True)
    project.sort(reverse=True)
    return {
        "ms_per_operation": per_op * 1000,
        "cumulative": [{"where": w, "ms_per_op": round(ms, 2)} for ms, w in cumulative[:top]],
        "own": [{"where": w, "ms_per_op": round(ms, 2)} for ms, w in own[:top]],
        "project": [{"where": w, "ms_per_op": round(ms, 2)} for ms, w in project[: top * 2]],
        "own_ms": own_ms,
        "queries_per_operation": len(queries.captured_queries),
        "queries": [
            {"ms": float(q["time"]) * 1000, "sql": q["sql"][:200]} for q in queries.captured_queries
        ],
        "ids": ids,
    }


def _short(filename: str) -> str:
    for marker in ("/site-packages/", f"{ROOT}/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
