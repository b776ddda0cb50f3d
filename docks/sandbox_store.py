"""The sandbox provider's "cloud": a table of its own, in an SQLite file.

Every web and worker process of one installation opens the same file
(``settings.STACKDOCK_SANDBOX_DB``), so a resource a worker created is seen by
the next worker and by the tests - exactly like records at a real provider,
and kept apart from StackDock's own database on purpose: it plays the part of
the outside world. Each call uses its own short connection, so it is safe from
any thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from docks.adapters.sandbox.backend import NameTaken, SandboxRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_resource (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL,
    name TEXT NOT NULL,
    size TEXT,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (resource_type, name)
);
CREATE TABLE IF NOT EXISTS sandbox_attempt (key TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""
_COLUMNS = "id, token, resource_type, name, size, spec, created_at, updated_at"


def _record(row: tuple) -> SandboxRecord:
    return SandboxRecord(
        id=row[0],
        token=row[1],
        resource_type=row[2],
        name=row[3],
        size=row[4],
        spec=json.loads(row[5]),
        created_at=row[6],
        updated_at=row[7],
    )


class SqliteSandboxBackend:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def get(self, record_id: str) -> SandboxRecord | None:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM sandbox_resource WHERE id = ?", (record_id,)
            ).fetchone()
        return _record(row) if row else None

    def get_by_token(self, token: str) -> SandboxRecord | None:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM sandbox_resource WHERE token = ?", (token,)
            ).fetchone()
        return _record(row) if row else None

    def insert(self, record: SandboxRecord) -> tuple[SandboxRecord, bool]:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM sandbox_resource WHERE token = ?", (record.token,)
            ).fetchone()
            if row:
                return _record(row), False
            taken = conn.execute(
                "SELECT 1 FROM sandbox_resource WHERE resource_type = ? AND name = ?",
                (record.resource_type, record.name),
            ).fetchone()
            if taken:
                raise NameTaken(record.resource_type, record.name)
            conn.execute(
                f"INSERT INTO sandbox_resource ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                self._values(record),
            )
        return record, True

    def update(self, record: SandboxRecord) -> SandboxRecord:
        with self._conn() as conn:
            if not conn.execute(
                "SELECT 1 FROM sandbox_resource WHERE id = ?", (record.id,)
            ).fetchone():
                raise KeyError(record.id)
            taken = conn.execute(
                "SELECT 1 FROM sandbox_resource WHERE resource_type = ? AND name = ? AND id != ?",
                (record.resource_type, record.name, record.id),
            ).fetchone()
            if taken:
                raise NameTaken(record.resource_type, record.name)
            values = self._values(record)
            conn.execute(
                "UPDATE sandbox_resource SET token=?, resource_type=?, name=?, size=?, spec=?, "
                "created_at=?, updated_at=? WHERE id=?",
                (*values[1:], record.id),
            )
        return record

    def delete(self, record_id: str) -> bool:
        with self._conn() as conn:
            return (
                conn.execute("DELETE FROM sandbox_resource WHERE id = ?", (record_id,)).rowcount
                == 1
            )

    def all(self) -> list[SandboxRecord]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM sandbox_resource ORDER BY id").fetchall()
        return [_record(r) for r in rows]

    def bump_attempt(self, key: str) -> int:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO sandbox_attempt (key, count) VALUES (?, 1) "
                "ON CONFLICT(key) DO UPDATE SET count = count + 1",
                (key,),
            )
            return int(
                conn.execute("SELECT count FROM sandbox_attempt WHERE key = ?", (key,)).fetchone()[
                    0
                ]
            )

    def clear(self) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM sandbox_resource")
            conn.execute("DELETE FROM sandbox_attempt")

    @staticmethod
    def _values(record: SandboxRecord) -> tuple:
        data = asdict(record)
        return (
            data["id"],
            data["token"],
            data["resource_type"],
            data["name"],
            data["size"],
            json.dumps(data["spec"], sort_keys=True),
            data["created_at"],
            data["updated_at"],
        )


_backends: dict[str, SqliteSandboxBackend] = {}


def sandbox_backend() -> SqliteSandboxBackend:
    """The backend at ``settings.STACKDOCK_SANDBOX_DB`` (one object per path)."""
    from django.conf import settings

    path = settings.STACKDOCK_SANDBOX_DB
    if path not in _backends:
        _backends[path] = SqliteSandboxBackend(path)
    return _backends[path]
