"""The engine benchmark: StackDock's orchestrator against ``terraform apply``.

Workloads (standard sizes; ``--quick`` shrinks them):

1. apply N = 1,000 and 3,000 independent zero-latency sandbox resources
   (parse + apply) on each state store, against ``terraform apply
   -parallelism=10`` of as many ``terraform_data`` resources;
2. a chain of 50 resources, each 100 ms of provider latency, each taking an
   output of the previous one: makespan against the 5.0 s critical path;
3. 50 independent 100 ms resources at parallelism 10: makespan against 0.5 s;
4. a no-op plan (parse + plan) of the 3,000-resource stack, and the peak RSS
   of a fresh process applying 10,000 resources.

Stores: ``memory`` (the engine's ``InMemoryStateStore``, the floor),
``sqlite`` and ``postgres`` (``provisioning.state_store.OrmStateStore``);
each variant runs in its own child process on its own fresh database.
Provider calls go to the sandbox adapter with an ``InMemorySandboxBackend``.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import terraform as tf
from .common import (
    BENCH_DB_NAME,
    BenchContext,
    ChildFailed,
    Figure,
    Report,
    Target,
    django_env,
    fresh_database,
    log,
    median,
    peak_rss_mb,
    run_child,
    setup_django,
)

#: Terraform figures measured on an idle 2-core machine (the issue's numbers): the
#: baselines when terraform is not installed here (labelled so), and otherwise a
#: second ratio in the notes, since Terraform's own time swings with the load.
TERRAFORM_REFERENCE = {"apply": {1000: 6.5, 3000: 59.0}, "chain": 5.49}


@dataclass(frozen=True)
class Sizes:
    """How big each workload is."""

    apply: tuple[int, ...] = (1000, 3000)
    chain: int = 50
    chain_latency_ms: int = 100
    parallel: int = 50
    parallel_latency_ms: int = 100
    parallelism: int = 10
    memory: int = 10_000
    #: runs per size of the zero-latency applies (the figure is the median)
    repeat: int = 5
    #: runs of the chain and the parallel workloads
    latency_repeat: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            apply=(20, 60),
            chain=4,
            chain_latency_ms=20,
            parallel=8,
            parallel_latency_ms=20,
            parallelism=4,
            memory=200,
            repeat=1,
            latency_repeat=1,
        )

    def kwargs(self) -> dict[str, Any]:
        return {
            "sizes": list(self.apply),
            "chain": self.chain,
            "chain_latency_ms": self.chain_latency_ms,
            "parallel": self.parallel,
            "parallel_latency_ms": self.parallel_latency_ms,
            "parallelism": self.parallelism,
            "repeat": self.repeat,
            "latency_repeat": self.latency_repeat,
        }


# --- child side: runs in a fresh interpreter ------------------------------------------------


class GcClock:
    """Seconds spent in Python's cyclic garbage collector (``gc.callbacks``).

    Not a tuning knob: the benchmark reports how much of an apply the
    collector takes, since it grows faster than linearly with the live heap.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def reset(self) -> float:
        spent, self.seconds = self.seconds, 0.0
        return spent


@dataclass
class _Harness:
    """Builds stacks and orchestrators on one store kind (child process only)."""

    store: str
    parallelism: int
    registry: Any = None
    org: Any = None
    counter: Any = field(default_factory=itertools.count)
    events: int = 0
    gc_clock: GcClock = field(default_factory=GcClock)
    #: seconds the garbage collector took during the last timed apply
    last_gc: float = 0.0
    #: ids of the stacks created so far (the runner, too, hands the store the stack it has)
    stack_ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from docks.adapters.sandbox import SandboxAdapter
        from provisioning.engine import Registry

        if self.store != "memory":
            setup_django()
            from stackdock.services import org_create

            stamp = f"{int(time.time())}-{time.perf_counter_ns() % 100000}"
            self.org, _ = org_create(slug=f"bench-{stamp}", owner_email=f"bench-{stamp}@bench.test")
        self.registry = Registry()
        self.registry.register(SandboxAdapter)
        # set up like a worker process: stackdock/celery.py freezes what start-up
        # loaded, so the collector does not re-scan Django's objects during applies
        gc.collect()
        gc.freeze()

    def new_stack_name(self, kind: str) -> str:
        name = f"{kind}-{next(self.counter)}"
        if self.org is not None:
            from provisioning.models import Stack

            self.stack_ids[name] = Stack.objects.create(org=self.org, name=name).pk
        return name

    def state_store(self) -> Any:
        if self.store == "memory":
            from provisioning.engine import InMemoryStateStore

            return InMemoryStateStore()
        from provisioning.state_store import OrmStateStore

        return OrmStateStore(self.org, stacks=self.stack_ids)

    def orchestrator(self, state_store: Any) -> Any:
        from docks.adapters.sandbox import InMemorySandboxBackend, SandboxAdapter
        from provisioning.engine import DeploymentOrchestrator

        backend = InMemorySandboxBackend()

        def count_event(_event: Any) -> None:
            self.events += 1

        return DeploymentOrchestrator(
            registry=self.registry,
            store=state_store,
            adapter_for=lambda dock, provider: SandboxAdapter(backend=backend),
            on_event=count_event,
            parallelism=self.parallelism,
        )

    def parse(self, document: dict[str, Any]) -> Any:
        from provisioning.engine import parse_stack

        return parse_stack(document, registry=self.registry, dock_provider=lambda ref: "sandbox")


def independent_document(name: str, n: int, *, latency_ms: int = 0) -> dict[str, Any]:
    """``n`` unrelated sandbox buckets."""
    props: dict[str, Any] = {"latency_ms": latency_ms} if latency_ms else {}
    return {
        "name": name,
        "resources": {
            f"r{i}": {
                "dock": "sandbox",
                "type": "bucket",
                "properties": {"name": f"{name}-r{i}", **props},
            }
            for i in range(n)
        },
    }


def chain_document(name: str, n: int, *, latency_ms: int) -> dict[str, Any]:
    """``n`` buckets, each one's ``size`` the previous one's ``id`` output."""
    resources: dict[str, Any] = {}
    for i in range(n):
        props: dict[str, Any] = {"name": f"{name}-c{i}", "latency_ms": latency_ms}
        if i:
            props["size"] = f"${{c{i - 1}.id}}"
        resources[f"c{i}"] = {"dock": "sandbox", "type": "bucket", "properties": props}
    return {"name": name, "resources": resources}


def _timed_apply(
    h: _Harness, document_for: Callable[[str], dict[str, Any]], n: int
) -> tuple[float, str, Any]:
    """Parse + apply a new stack; returns (seconds, stack name, store).

    Garbage from earlier runs is collected first so it is not charged to this one.
    """
    name = h.new_stack_name("s")
    document = document_for(name)
    store = h.state_store()
    orch = h.orchestrator(store)
    gc.collect()
    h.gc_clock.reset()
    started = time.perf_counter()
    stack = h.parse(document)
    result = orch.apply(stack, holder="bench")
    elapsed = time.perf_counter() - started
    h.last_gc = h.gc_clock.reset()
    if result.status != "succeeded" or result.summary["created"] != n:
        raise RuntimeError(f"apply of {name} did not create {n}: {result.status} {result.summary}")
    return elapsed, name, store


def _repeat(times: int, run: Callable[[], float]) -> list[float]:
    return [run() for _ in range(times)]


def suite(
    *,
    store: str,
    sizes: list[int],
    chain: int,
    chain_latency_ms: int,
    parallel: int,
    parallel_latency_ms: int,
    parallelism: int,
    repeat: int,
    latency_repeat: int,
) -> dict[str, Any]:
    """Every timing workload on one store kind (child process). Seconds throughout.

    Sizes are interleaved (1,000, 3,000, 1,000, ...) so that a burst of load
    from elsewhere on the machine does not land on one size only; each
    figure is the median of its runs, every run is kept in ``*_runs``.
    """
    h = _Harness(store, parallelism)
    runs: dict[int, list[float]] = {n: [] for n in sizes}
    gc_runs: dict[int, list[float]] = {n: [] for n in sizes}
    last: tuple[str, Any] | None = None
    for _ in range(repeat):
        for n in sizes:
            elapsed, name, state_store = _timed_apply(
                h, lambda s, n=n: independent_document(s, n), n
            )
            runs[n].append(elapsed)
            gc_runs[n].append(h.last_gc)
            last = (name, state_store)
    for n in sizes:
        log(f"{store}: apply {n:,}: {', '.join(f'{r:.3f}' for r in runs[n])} s")
    assert last is not None
    out: dict[str, Any] = {
        "apply": {n: median(r) for n, r in runs.items()},
        "apply_runs": runs,
        "apply_gc": {n: median(r) for n, r in gc_runs.items()},
    }
    out.update(_noop_plan(h, *last, sizes[-1], max(repeat, 3)))
    chain_runs = _repeat(
        latency_repeat,
        lambda: _timed_apply(
            h, lambda s: chain_document(s, chain, latency_ms=chain_latency_ms), chain
        )[0],
    )
    parallel_runs = _repeat(
        latency_repeat,
        lambda: _timed_apply(
            h,
            lambda s: independent_document(s, parallel, latency_ms=parallel_latency_ms),
            parallel,
        )[0],
    )
    out.update(
        chain=median(chain_runs),
        chain_runs=chain_runs,
        parallel=median(parallel_runs),
        parallel_runs=parallel_runs,
        events=h.events,
    )
    return out


def _noop_plan(h: _Harness, name: str, state_store: Any, n: int, times: int) -> dict[str, Any]:
    """Parse + plan of an applied ``n``-resource stack, unchanged: as a user waits for it."""
    orch = h.orchestrator(state_store)
    document = independent_document(name, n)
    total, plan_only = [], []
    for _ in range(times):
        gc.collect()
        started = time.perf_counter()
        stack = h.parse(document)
        parsed = time.perf_counter()
        plan = orch.plan(stack)
        done = time.perf_counter()
        if plan.summary.get("no-op") != n:
            raise RuntimeError(f"the no-op plan is not a no-op: {plan.summary}")
        total.append(done - started)
        plan_only.append(done - parsed)
    return {
        "noop_plan": median(total),
        "noop_plan_runs": total,
        "noop_plan_without_parse": median(plan_only),
    }


def memory(*, store: str, n: int, parallelism: int) -> dict[str, Any]:
    """Peak RSS of this fresh process applying ``n`` resources (child process)."""
    h = _Harness(store, parallelism)
    idle = peak_rss_mb()
    elapsed, _, _ = _timed_apply(h, lambda s: independent_document(s, n), n)
    return {"idle_mb": idle, "peak_mb": peak_rss_mb(), "apply_s": elapsed}


# --- parent side ----------------------------------------------------------------------------


STORE_LABELS = {"memory": "in-memory", "sqlite": "ORM, SQLite", "postgres": "ORM, PostgreSQL"}


def stores_for(ctx: BenchContext) -> list[str]:
    """``memory``, ``sqlite`` and (with a server) ``postgres``; ``options["stores"]`` narrows."""
    stores = ["memory", "sqlite"]
    if ctx.pg_url:
        stores.append("postgres")
    wanted = ctx.options.get("stores")
    return [s for s in stores if s in wanted] if wanted else stores


def _child_env(store: str, ctx: BenchContext) -> dict[str, str]:
    if store == "memory":
        return {}
    return django_env(fresh_database(store, ctx, name=ctx.options.get("db_name", BENCH_DB_NAME)))


def run(ctx: BenchContext) -> Report:
    """Run the whole engine benchmark; return its report (also printed and written)."""
    sizes = Sizes.quick() if ctx.quick else Sizes()
    report = Report("engine", command=ctx.command)
    measured: dict[str, dict[str, Any]] = {}
    for store in stores_for(ctx):
        log(f"engine: {STORE_LABELS[store]} store")
        try:
            env = _child_env(store, ctx)
            measured[store] = run_child(
                "bench.engine:suite", {"store": store, **sizes.kwargs()}, env=env
            )
            measured[store]["memory"] = run_child(
                "bench.engine:memory",
                {"store": store, "n": sizes.memory, "parallelism": sizes.parallelism},
                env=env,
            )
        except ChildFailed as exc:
            report.note(f"{STORE_LABELS[store]}: {exc}")
    terraform = _terraform(ctx, sizes, report)
    report.raw = {
        "sizes": sizes.kwargs() | {"memory": sizes.memory},
        "engine": measured,
        "terraform": terraform,
    }
    _figures(report, sizes, measured, terraform)
    return report


def _terraform(ctx: BenchContext, sizes: Sizes, report: Report) -> dict[str, Any] | None:
    binary = tf.find_terraform() if ctx.terraform else None
    if binary is None:
        why = "disabled (--no-terraform)" if not ctx.terraform else "terraform is not installed"
        report.note(f"Terraform half skipped: {why}.")
        return None
    log(f"engine: terraform ({binary})")
    try:
        return tf.measure(
            binary,
            **{k: v for k, v in sizes.kwargs().items() if k not in ("repeat", "latency_repeat")},
        )
    except (tf.TerraformError, OSError) as exc:
        report.note(f"Terraform half failed: {exc}")
        return None


def _figures(
    report: Report,
    sizes: Sizes,
    measured: dict[str, dict[str, Any]],
    terraform: dict[str, Any] | None,
) -> None:
    small, big = sizes.apply[0], sizes.apply[-1]
    tf_apply, tf_label = _terraform_apply_baselines(sizes, terraform)
    chain_critical = sizes.chain * sizes.chain_latency_ms / 1000
    waves = -(-sizes.parallel // sizes.parallelism)
    parallel_critical = waves * sizes.parallel_latency_ms / 1000
    tf_chain_step = _terraform_step_overhead(sizes, terraform)
    for store, m in measured.items():
        label = STORE_LABELS[store]
        for n in sizes.apply:
            report.add(
                Figure(
                    f"apply {n:,} independent [{label}]",
                    m["apply"][str(n)],
                    "s",
                    baseline=tf_apply.get(n),
                    baseline_label=tf_label,
                    target=Target(0.1, "ratio", ">= 10x faster than Terraform")
                    if n == big
                    else None,
                    note=_apply_note(m, n, measured_terraform=terraform is not None),
                )
            )
        report.add(
            Figure(
                f"time({big:,}) / time({small:,}) [{label}]",
                m["apply"][str(big)] / m["apply"][str(small)],
                "x",
                baseline=big / small,
                baseline_label="linear",
                target=Target(
                    3.5 * (big / small) / 3, "value", f"<= {3.5 * (big / small) / 3:.2f}"
                ),
            )
        )
        report.add(
            Figure(
                f"chain of {sizes.chain} x {sizes.chain_latency_ms} ms: makespan [{label}]",
                m["chain"],
                "s",
                baseline=chain_critical,
                baseline_label="critical path",
            )
        )
        report.add(
            Figure(
                f"chain overhead per step [{label}]",
                (m["chain"] - chain_critical) / sizes.chain * 1000,
                "ms",
                baseline=tf_chain_step[0],
                baseline_label=tf_chain_step[1],
                target=Target(2.0, "value", "<= 2 ms per step"),
            )
        )
        report.add(
            Figure(
                f"{sizes.parallel} independent x {sizes.parallel_latency_ms} ms at parallelism "
                f"{sizes.parallelism}: makespan [{label}]",
                m["parallel"],
                "s",
                baseline=parallel_critical,
                baseline_label="ideal",
                note=_terraform_note(terraform, "parallel"),
            )
        )
        report.add(
            Figure(
                f"no-op plan of {big:,} (parse + plan) [{label}]",
                m["noop_plan"],
                "s",
                baseline=(terraform or {}).get("noop_plan"),
                baseline_label="terraform plan -refresh=false" if terraform else "",
                target=Target(0.5, "value", "< 0.5 s"),
                note=f"plan alone {m['noop_plan_without_parse'] * 1000:.0f} ms",
            )
        )
        mem = m.get("memory")
        if mem:
            report.add(
                Figure(
                    f"peak RSS applying {sizes.memory:,} [{label}]",
                    mem["peak_mb"],
                    "MB",
                    baseline=mem["idle_mb"],
                    baseline_label="same process before the apply",
                    target=Target(500, "value", "< 500 MB"),
                    note=f"that apply took {mem['apply_s']:.2f} s",
                )
            )
    if terraform:
        for n in sizes.apply:
            report.add(Figure(f"terraform apply {n:,} terraform_data", terraform["apply"][n], "s"))


def _apply_note(m: dict[str, Any], n: int, *, measured_terraform: bool) -> str:
    """The garbage collector's share, and the ratio to the idle-machine Terraform figure
    (Terraform's own time swings with the machine's load more than the engine's)."""
    seconds = m["apply"][str(n)]
    parts = []
    gc_s = m.get("apply_gc", {}).get(str(n))
    if gc_s is not None:
        parts.append(f"garbage collector {gc_s * 1000:.0f} ms of it ({gc_s / seconds:.0%})")
    reference = TERRAFORM_REFERENCE["apply"].get(n)
    if measured_terraform and reference:
        parts.append(f"{seconds / reference:.3f}x the reference Terraform {reference:g} s")
    return "; ".join(parts)


def _terraform_apply_baselines(
    sizes: Sizes, terraform: dict[str, Any] | None
) -> tuple[dict[int, float], str]:
    if terraform:
        return dict(terraform["apply"]), "terraform, this run"
    reference = {
        n: TERRAFORM_REFERENCE["apply"][n] for n in sizes.apply if n in TERRAFORM_REFERENCE["apply"]
    }
    return reference, "terraform, reference figure"


def _terraform_step_overhead(
    sizes: Sizes, terraform: dict[str, Any] | None
) -> tuple[float | None, str]:
    critical = sizes.chain * sizes.chain_latency_ms / 1000
    if terraform:
        return (terraform["chain"] - critical) / sizes.chain * 1000, "terraform, this run"
    if (sizes.chain, sizes.chain_latency_ms) == (50, 100):
        return (
            TERRAFORM_REFERENCE["chain"] - critical
        ) / sizes.chain * 1000, "terraform, reference figure"
    return None, ""


def _terraform_note(terraform: dict[str, Any] | None, key: str) -> str:
    if not terraform or terraform.get(key) is None:
        return ""
    return f"terraform: {terraform[key]:.2f} s"
