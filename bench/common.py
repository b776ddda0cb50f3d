"""What every benchmark shares: figures and reports, child processes, bench databases.

A benchmark builds a :class:`Report` of :class:`Figure` s. Each figure has a
value, a baseline (the peer it is compared with: Terraform, the critical
path, a bare endpoint...) and usually a target; the report prints them as a
table and writes ``<results_dir>/<name>.json``. Benchmarks never fail: a
missed target is a figure marked ``MISSED``.

Work that needs Django runs in a fresh interpreter (:func:`run_child`) so that
settings and databases of the variants never mix, and so that peak RSS is the
child's own.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
VAR_DIR = ROOT / "var" / "bench"
#: the PostgreSQL database the benchmarks create, migrate and use
BENCH_DB_NAME = "stackdock_bench"


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", flush=True)


# --- figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An upper bound on a figure's ``value`` or on its ``ratio`` to the baseline."""

    limit: float
    of: str = "value"  # "value" | "ratio"
    text: str = ""

    def met(self, value: float, ratio: float | None) -> bool | None:
        subject = value if self.of == "value" else ratio
        if subject is None:
            return None
        return subject <= self.limit


@dataclass
class Figure:
    """One measured number, with what it is compared to and what it should be."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value, self.ratio) if self.target else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = asdict(self.target) if self.target else None
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


def fmt(value: float | None, unit: str = "") -> str:
    """A short human rendering: ``0.412 s``, ``1.3 ms``, ``212 MB``, ``0.08x``."""
    if value is None:
        return "-"
    if unit == "queries":
        return f"{value:.0f} quer{'y' if round(value) == 1 else 'ies'}"
    if unit == "s" and abs(value) < 1:
        return f"{value * 1000:.1f} ms"
    if unit in ("s", "x", ""):
        digits = 3 if abs(value) < 10 else 1
        return f"{value:.{digits}f}{' ' + unit if unit == 's' else unit}"
    if unit == "ms":
        return f"{value:.2f} ms" if abs(value) < 10 else f"{value:.1f} ms"
    return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


@dataclass
class Report:
    """The figures of one benchmark, printed as a table and written as JSON."""

    name: str
    command: str = ""
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def note(self, message: str) -> None:
        log(message)
        self.notes.append(message)

    def render(self) -> str:
        header = ("figure", "value", "baseline", "ratio", "target", "")
        rows = [header]
        for f in self.figures:
            baseline = fmt(f.baseline, f.unit) if f.baseline is not None else "-"
            if f.baseline_label:
                baseline = f"{baseline} ({f.baseline_label})"
            verdict = {True: "ok", False: "MISSED", None: ""}[f.met]
            rows.append(
                (
                    f.name,
                    fmt(f.value, f.unit),
                    baseline,
                    fmt(f.ratio, "x") if f.ratio is not None else "-",
                    f.target.text if f.target else "-",
                    verdict,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [f"== {self.name} =="]
        for i, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        for f in self.figures:
            if f.note:
                lines.append(f"  * {f.name}: {f.note}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(line.rstrip() for line in lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "started_at": self.started_at,
            "machine": machine_info(),
            "figures": [f.as_json() for f in self.figures],
            "notes": self.notes,
            "raw": self.raw,
        }

    def write(self, results_dir: Path) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{self.name}.json"
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=False) + "\n")
        return path


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m": round(load[0], 2),
    }


# --- context -------------------------------------------------------------------------


@dataclass
class BenchContext:
    """What ``bench/run.py`` hands every benchmark.

    ``pg_url``/``redis_url`` are the servers found or started for this run
    (the database name in ``pg_url`` is ignored: benchmarks create their own).
    ``quick`` asks for small sizes (the smoke test and ``--quick``).
    """

    pg_url: str | None
    redis_url: str | None
    results_dir: Path = RESULTS_DIR
    var_dir: Path = VAR_DIR
    quick: bool = False
    command: str = ""
    terraform: bool = True
    options: dict[str, Any] = field(default_factory=dict)


# --- child processes -------------------------------------------------------------------


class ChildFailed(RuntimeError):
    """A benchmark child process exited with an error."""


def run_child(
    func: str,
    kwargs: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> Any:
    """Run ``bench.child`` with ``module:function`` and keyword arguments; return its result.

    Arguments and result travel through files in a private temporary
    directory (never the command line, where ``ps`` would show them). The
    child gets this environment plus ``env``; its output passes through.
    """
    with tempfile.TemporaryDirectory(prefix="stackdock-bench-") as tmp:
        args, out = Path(tmp) / "kwargs.json", Path(tmp) / "result.json"
        args.write_text(json.dumps(kwargs))
        cmd = [sys.executable, "-m", "bench.child", func, str(args), str(out)]
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = subprocess.run(cmd, cwd=ROOT, env=child_env, timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            raise ChildFailed(f"{func} exited with status {proc.returncode}")
        return json.loads(out.read_text())


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a child needs to set up Django on ``database_url``."""
    return {
        "DJANGO_SETTINGS_MODULE": "stackdock.settings",
        "STACKDOCK_ENV": "test",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def setup_django() -> None:
    """In a child: set Django up from the environment ``django_env`` built."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackdock.settings")
    os.environ.setdefault("STACKDOCK_ENV", "test")
    import django

    django.setup()


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb(pid: int | None = None) -> float:
    """Current resident set size of ``pid`` (default: this process), in MB."""
    statm = Path(f"/proc/{pid or 'self'}/statm").read_text().split()
    return int(statm[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


# --- bench databases -------------------------------------------------------------------------


def with_database(server_url: str, name: str) -> str:
    """``postgres://u@h:p/anything`` -> the same server, database ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin_connect(server_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(with_database(server_url, "postgres"), autocommit=True)


def drop_pg_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with _admin_connect(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def recreate_sqlite(path: Path) -> str:
    """Remove the SQLite file (and its WAL) at ``path``; return its URL (not migrated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def migrate(database_url: str) -> None:
    """``manage.py migrate`` on ``database_url`` (system checks skipped: a schema step)."""
    env = {**os.environ, **django_env(database_url)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--skip-checks", "-v0", "--no-input"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def schema_fingerprint() -> str:
    """A hash of every migration file: a migrated template is reusable while it holds."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _pg_template(server_url: str) -> str:
    """The migrated template database for the current schema (built once, then reused)."""
    from psycopg import errors, sql

    name = f"stackdock_bench_tpl_{schema_fingerprint()}"
    with _admin_connect(server_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return name
        stale = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'stackdock_bench_tpl_%%'"
        ).fetchall()
        for (old,) in stale:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old))
            )
        building = f"{name}_building_{os.getpid()}"
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    log("migrating a template database for this schema (once)")
    migrate(with_database(server_url, building))
    with _admin_connect(server_url) as conn:
        try:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(name)
                )
            )
        except errors.DuplicateDatabase:  # another run built it meanwhile
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(building)))
    return name


def _pg_from_template(server_url: str, name: str) -> str:
    """Drop ``name`` and create it as a copy of the migrated template; its URL."""
    from psycopg import errors, sql

    template = _pg_template(server_url)
    for attempt in range(20):
        with _admin_connect(server_url) as conn:
            ident = sql.Identifier(name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        ident, sql.Identifier(template)
                    )
                )
                return with_database(server_url, name)
            except errors.ObjectInUse:  # someone else is copying the template right now
                time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"could not copy the template database {template}")


def _sqlite_checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, so that copying the file copies everything."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fresh_database(kind: str, ctx: BenchContext, *, name: str = BENCH_DB_NAME) -> str:
    """A new, migrated bench database of ``kind`` (``sqlite`` | ``postgres``); its URL.

    Migrations run once per schema into a template (a PostgreSQL template
    database, a template SQLite file); every fresh database is a copy of it.
    """
    if kind == "sqlite":
        template = ctx.var_dir / f"template-{schema_fingerprint()}.sqlite3"
        if not template.exists():
            for stale in ctx.var_dir.glob("template-*.sqlite3"):
                stale.unlink()
            building = template.with_suffix(f".{os.getpid()}.tmp")
            migrate(recreate_sqlite(building))
            _sqlite_checkpoint(building)
            building.replace(template)
        path = ctx.var_dir / f"{name}.sqlite3"
        url = recreate_sqlite(path)
        shutil.copyfile(template, path)
        return url
    if kind == "postgres":
        if not ctx.pg_url:
            raise RuntimeError("no PostgreSQL server for this run")
        return _pg_from_template(ctx.pg_url, name)
    raise ValueError(f"unknown database kind {kind!r}")


def which(program: str, *fallbacks: str) -> str | None:
    """``shutil.which(program)``, else the first existing fallback path."""
    found = shutil.which(program)
    if found:
        return found
    return next((p for p in fallbacks if Path(p).is_file() and os.access(p, os.X_OK)), None)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
