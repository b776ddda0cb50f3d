"""Where the sandbox keeps its "cloud" resources.

``SandboxBackend`` is the seam: the in-memory backend here serves one
process; a database-table backend (records shared by every worker process)
can implement the same protocol. Implementations must make ``insert``,
``update``, ``delete`` and ``bump_attempt`` atomic.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


@dataclass(frozen=True)
class SandboxRecord:
    """One sandbox resource. ``spec`` is the validated spec it was last given."""

    id: str
    token: str
    resource_type: str
    name: str
    size: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


class NameTaken(Exception):
    """Another record of this type (created with another token) has this name."""

    def __init__(self, resource_type: str, name: str) -> None:
        super().__init__(f"a sandbox {resource_type} named {name!r} already exists")
        self.resource_type = resource_type
        self.name = name


class SandboxBackend(Protocol):
    def get(self, record_id: str) -> SandboxRecord | None: ...

    def get_by_token(self, token: str) -> SandboxRecord | None: ...

    def insert(self, record: SandboxRecord) -> tuple[SandboxRecord, bool]:
        """Store ``record``; ``(stored, True)``.

        If a record with the same token exists, it is returned unchanged
        with ``False`` (idempotent create). If another record of the same
        type has the same name, raise ``NameTaken``.
        """

    def update(self, record: SandboxRecord) -> SandboxRecord:
        """Replace the record with the same id (``KeyError`` if it is gone,
        ``NameTaken`` if the new name belongs to another record)."""

    def delete(self, record_id: str) -> bool:
        """Remove it; False when it was already gone."""

    def all(self) -> list[SandboxRecord]: ...

    def bump_attempt(self, key: str) -> int:
        """Count one more call for ``key`` (fault injection); return the new count."""


class InMemorySandboxBackend:
    """A thread-safe SandboxBackend for one process."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._by_id: dict[str, SandboxRecord] = {}
        self._by_token: dict[str, str] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._attempts: dict[str, int] = {}

    def get(self, record_id: str) -> SandboxRecord | None:
        with self._mutex:
            return self._by_id.get(record_id)

    def get_by_token(self, token: str) -> SandboxRecord | None:
        with self._mutex:
            record_id = self._by_token.get(token)
            return self._by_id.get(record_id) if record_id else None

    def insert(self, record: SandboxRecord) -> tuple[SandboxRecord, bool]:
        with self._mutex:
            existing = self._by_token.get(record.token)
            if existing is not None:
                return self._by_id[existing], False
            if (record.resource_type, record.name) in self._by_name:
                raise NameTaken(record.resource_type, record.name)
            self._by_id[record.id] = record
            self._by_token[record.token] = record.id
            self._by_name[(record.resource_type, record.name)] = record.id
            return record, True

    def update(self, record: SandboxRecord) -> SandboxRecord:
        with self._mutex:
            old = self._by_id[record.id]
            key = (record.resource_type, record.name)
            holder = self._by_name.get(key)
            if holder is not None and holder != record.id:
                raise NameTaken(record.resource_type, record.name)
            del self._by_name[(old.resource_type, old.name)]
            self._by_name[key] = record.id
            self._by_id[record.id] = record
            return record

    def delete(self, record_id: str) -> bool:
        with self._mutex:
            record = self._by_id.pop(record_id, None)
            if record is None:
                return False
            self._by_token.pop(record.token, None)
            self._by_name.pop((record.resource_type, record.name), None)
            return True

    def all(self) -> list[SandboxRecord]:
        with self._mutex:
            return list(self._by_id.values())

    def bump_attempt(self, key: str) -> int:
        with self._mutex:
            count = self._attempts.get(key, 0) + 1
            self._attempts[key] = count
            return count

    # --- test helpers ----------------------------------------------------
    def tamper(self, record_id: str, **changes: Any) -> SandboxRecord:
        """Change a record behind the engine's back (drift tests)."""
        with self._mutex:
            old = self._by_id[record_id]
            record = replace(old, **changes)
            del self._by_name[(old.resource_type, old.name)]
            self._by_name[(record.resource_type, record.name)] = record_id
            self._by_id[record_id] = record
            return record

    def clear(self) -> None:
        with self._mutex:
            self._by_id.clear()
            self._by_token.clear()
            self._by_name.clear()
            self._attempts.clear()


_default_backend = InMemorySandboxBackend()


def default_backend() -> SandboxBackend:
    """The process-global in-memory backend."""
    return _default_backend
