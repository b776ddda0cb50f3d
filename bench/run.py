"""``make bench``: run the benchmarks, print their figures, write bench/results/<name>.json.

PostgreSQL and Redis are found or started exactly as ``make test`` does
(``scripts/testenv.py``'s ``postgres()`` / ``redis()``: ``TEST_DATABASE_URL`` /
``TEST_REDIS_URL``, else 127.0.0.1:5432 / :6379, else throwaway servers).
Each benchmark creates and migrates its own database (``stackdock_bench``
on PostgreSQL, ``var/bench/*.sqlite3``).

    make bench                         # everything, standard sizes
    make bench ARGS="engine"           # only the engine benchmark
    make bench ARGS="--quick"          # small sizes (a minute or two)
    make bench ARGS="engine --no-terraform"
    make bench ARGS="--markdown"       # the last results as Markdown (docs/PERFORMANCE.md)

Benchmarks report; they never fail because a target was missed (the exit
status is non-zero only when a benchmark could not run at all).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import engine, markdown  # noqa: E402
from bench.common import RESULTS_DIR, VAR_DIR, BenchContext, Report, log  # noqa: E402
from bench.system import api, status, throughput, worker_memory  # noqa: E402
from scripts import testenv  # noqa: E402

BENCHMARKS: dict[str, Callable[[BenchContext], Report]] = {
    "engine": engine.run,
    "api": api.run,
    "throughput": throughput.run,
    "status": status.run,
    "worker_memory": worker_memory.run,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the code")
    parser.add_argument(
        "--no-terraform", action="store_true", help="skip the Terraform half of the engine bench"
    )
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="do not find or start PostgreSQL/Redis (SQLite and in-memory variants only)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the last results as Markdown tables (runs nothing)",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return args


@contextlib.contextmanager
def services(enabled: bool) -> Iterator[tuple[str | None, str | None]]:
    """PostgreSQL and Redis URLs, found or started like ``make test`` (stopped afterwards)."""
    if not enabled:
        yield None, None
        return
    with testenv.postgres() as pg_url, testenv.redis() as redis_url:
        yield pg_url, redis_url


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown.render(args.results))
        return 0
    names = args.names or list(BENCHMARKS)
    command = shlex.join(["make", "bench", *(["ARGS=" + shlex.join(argv)] if argv else [])])
    failures = 0
    with services(not args.no_postgres) as (pg_url, redis_url):
        log(f"PostgreSQL: {pg_url or '-'}  Redis: {redis_url or '-'}")
        ctx = BenchContext(
            pg_url=pg_url,
            redis_url=redis_url,
            results_dir=args.results,
            var_dir=VAR_DIR,
            quick=args.quick,
            command=command,
            terraform=not args.no_terraform,
        )
        for name in names:
            log(f"running {name}")
            try:
                report = BENCHMARKS[name](ctx)
            except Exception as exc:  # a benchmark that cannot run is reported, not fatal
                failures += 1
                log(f"{name} could not run: {type(exc).__name__}: {exc}")
                continue
            print(report.render(), flush=True)
            log(f"wrote {report.write(ctx.results_dir)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
