"""``d1-database``: a D1 database (fills the ``databases`` table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare

from docks.adapters.base import AlreadyExists, ResourceResult, SpecModel

from .context import Handler, api_dict, gone
from .errors import error_codes
from .specs import D1DatabaseSpec

#: "A database with that name already exists"
DATABASE_EXISTS = 7502


def database_result(database: Any) -> ResourceResult:
    return ResourceResult(
        provider_resource_id=database.uuid,
        outputs={"id": database.uuid, "name": database.name},
        universal={
            "name": database.name,
            "status": "active",
            "region": None,
            "engine": "d1",
            "version": None,
            "endpoint": None,
        },
        full_api_data=api_dict(database),
    )


class D1DatabaseHandler(Handler):
    def _by_name(self, name: str) -> Any | None:
        for database in self.client.d1.database.list(account_id=self.account_id, name=name):
            if database.name == name and database.uuid:
                return self._get(database.uuid)
        return None

    def _get(self, database_id: str) -> Any | None:
        try:
            return self.client.d1.database.get(database_id, account_id=self.account_id)
        except cloudflare.NotFoundError:
            return None

    def _reconcile(self, database: Any, spec: D1DatabaseSpec) -> Any:
        current = database.read_replication.mode if database.read_replication else None
        if spec.read_replication and current != spec.read_replication:
            database = self.client.d1.database.edit(
                database.uuid,
                account_id=self.account_id,
                read_replication={"mode": spec.read_replication},
            )
        return database

    def create(self, spec: D1DatabaseSpec) -> ResourceResult:
        if self._by_name(spec.name) is not None:
            raise AlreadyExists(f"D1 database {spec.name!r}")
        options: dict[str, Any] = {}
        if spec.primary_location_hint:
            options["primary_location_hint"] = spec.primary_location_hint
        if spec.read_replication:
            options["read_replication"] = {"mode": spec.read_replication}
        try:
            database = self.client.d1.database.create(
                account_id=self.account_id, name=spec.name, **options
            )
        except cloudflare.BadRequestError as exc:
            if DATABASE_EXISTS in error_codes(exc):
                raise AlreadyExists(f"D1 database {spec.name!r}") from None
            raise
        return database_result(self._reconcile(database, spec))

    def find(self, spec: D1DatabaseSpec) -> ResourceResult | None:
        database = self._by_name(spec.name)
        return database_result(database) if database is not None else None

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        database = self._get(provider_resource_id)
        return database_result(database) if database is not None else None

    def update(
        self, provider_resource_id: str, old: D1DatabaseSpec, new: D1DatabaseSpec
    ) -> ResourceResult:
        database = self._get(provider_resource_id)
        if database is None:
            raise gone("D1 database", provider_resource_id)
        return database_result(self._reconcile(database, new))

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        try:
            self.client.d1.database.delete(provider_resource_id, account_id=self.account_id)
        except cloudflare.NotFoundError:
            return

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        notes.append(
            "Cloudflare does not report a D1 database's primary_location_hint: left out "
            "(setting it later replaces the database)"
        )
        mode = (result.full_api_data.get("read_replication") or {}).get("mode")
        return {"name": result.outputs["name"], "read_replication": mode}

    def sync(self) -> Iterator[ResourceResult]:
        for database in self.client.d1.database.list(account_id=self.account_id):
            if database.uuid:
                yield database_result(database)
