"""TEMPORARY probe (not committed): where a worker's own time goes, by section."""
from __future__ import annotations
import statistics, time
from typing import Any
from bench.common import setup_django


def probe(*, base_url: str, token: str, dock: str, count: int, prefix: str) -> dict[str, Any]:
    setup_django()
    from bench.system.loadgen import post_json
    import provisioning.runner as R
    import audit.services as A
    import provisioning.engine.orchestrator as O
    from provisioning.models import OperationEvent

    ids = []
    for i in range(count):
        body = {"dock": dock, "resource_type": "s3-bucket", "spec": {"name": f"{prefix}-{i}"}}
        status, payload, _ = post_json(base_url, "/api/v1/provision", body, token)
        ids.append(int(payload["provision_id"]))
    acc: dict[str, list[float]] = {}
    cur: dict[str, float] = {}

    def wrap(obj, name, label):
        orig = getattr(obj, name)
        def inner(*a, **k):
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                cur[label] = cur.get(label, 0) + (time.perf_counter() - t) * 1000
        setattr(obj, name, inner)

    wrap(R, "claim", "claim")
    wrap(R, "_parse", "parse")
    wrap(R, "_finish", "finish")
    wrap(R, "_reflect", "reflect(in finish)")
    wrap(A, "audit_log", "audit_log(any)")
    wrap(R.Adapters, "__call__", "adapters(decrypt+audit)")
    wrap(R.EventWriter, "__init__", "eventwriter init")
    wrap(R, "orchestrator_for", "orchestrator_for")
    wrap(O.DeploymentOrchestrator, "apply", "engine apply (incl provider)")
    import provisioning.state_store as S
    for m in ("acquire_lock", "load", "write", "snapshot", "release_lock"):
        wrap(S.OrmStateStore, m, f"store.{m}")
    R.operation_run(ids[0], worker="probe")
    totals = []
    import os
    gap = float(os.environ.get('PROBE_GAP', '0'))
    for op_id in ids[1:]:
        time.sleep(gap)
        cur.clear()
        t = time.perf_counter()
        R.operation_run(op_id, worker="probe")
        total = (time.perf_counter() - t) * 1000
        prov = sum(e.duration_ms or 0 for e in OperationEvent.objects.filter(operation_id=op_id).exclude(resource="").filter(status="succeeded"))
        cur["provider (events)"] = prov
        cur["TOTAL"] = total
        cur["TOTAL - provider"] = total - prov
        for k, v in cur.items():
            acc.setdefault(k, []).append(v)
    return {k: round(statistics.median(v), 2) for k, v in acc.items()}
