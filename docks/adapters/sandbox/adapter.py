"""The sandbox provider: resources that live in a ``SandboxBackend``, no cloud.

It exists for demos, tests and benchmarks, and to inject faults on purpose
through the spec's ``fail`` field:

* ``transient``: every call fails twice with a transient ProviderError, then
  succeeds (counted per idempotency token and operation);
* ``permanent``: create fails with a permanent ProviderError;
* ``crash-after-create``: the process dies right after the record is
  created (``SandboxAdapter.crash``; tests replace it with raising
  ``SimulatedCrash``).

``latency_ms`` delays every provider call for that resource.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import Field

from docks.adapters.base import (
    Adapter,
    AlreadyExists,
    CredentialCheck,
    CredentialsModel,
    ProviderError,
    ReadBack,
    ResourceResult,
    ResourceType,
    SpecModel,
    SyncedResource,
)

from .backend import NameTaken, SandboxBackend, SandboxRecord, default_backend

REGION = "sandbox-1"
#: How many times a ``fail: transient`` call fails before it succeeds.
TRANSIENT_FAILURES = 2


class SimulatedCrash(BaseException):  # noqa: N818 - it stands for a process death, not an error
    """Stands in for the process dying (raised by tests' ``crash`` hook).

    A BaseException, so the engine does not handle it as a provider error.
    """


class SandboxCredentials(CredentialsModel):
    """The sandbox needs no credentials."""


class SandboxSpec(SpecModel):
    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]*$",
        description="Resource name: lowercase letters, digits, dots and hyphens.",
    )
    size: str | None = Field(default=None, max_length=63, description="Free-form size label.")
    latency_ms: int | None = Field(
        default=None, ge=0, le=60000, description="Delay of every provider call, in ms."
    )
    fail: Literal["transient", "permanent", "crash-after-create"] | None = Field(
        default=None, description="Inject a fault (testing)."
    )


class ServerSpec(SandboxSpec):
    """A sandbox server."""


class WebServiceSpec(SandboxSpec):
    """A sandbox web service."""


class DomainSpec(SandboxSpec):
    """A sandbox domain."""


class DatabaseSpec(SandboxSpec):
    """A sandbox database."""


class BucketSpec(SandboxSpec):
    """A sandbox bucket."""


def _rtype(name: str, table: str, model: type[SandboxSpec], description: str) -> ResourceType:
    return ResourceType(
        name=name,
        table=table,
        spec_model=model,
        replace_fields=frozenset({"name"}),
        key_fields=("name",),
        outputs=("id", "name", "size"),
        description=description,
    )


_PREFIX = {
    "server": "srv",
    "web-service": "web",
    "domain": "dom",
    "database": "db",
    "bucket": "bkt",
}
_STATUS = {
    "server": "running",
    "web-service": "running",
    "database": "running",
    "domain": "active",
    "bucket": "active",
}


def _default_crash() -> NoReturn:
    os._exit(137)


class SandboxAdapter(Adapter):
    provider: ClassVar[str] = "sandbox"
    label: ClassVar[str] = "Sandbox (no cloud)"
    credentials_model: ClassVar[type[CredentialsModel]] = SandboxCredentials
    credentialless: ClassVar[bool] = True
    resource_types: ClassVar[dict[str, ResourceType]] = {
        "server": _rtype("server", "servers", ServerSpec, "A pretend server."),
        "web-service": _rtype(
            "web-service", "web-services", WebServiceSpec, "A pretend web service."
        ),
        "domain": _rtype("domain", "domains", DomainSpec, "A pretend domain."),
        "database": _rtype("database", "databases", DatabaseSpec, "A pretend database."),
        "bucket": _rtype("bucket", "buckets", BucketSpec, "A pretend bucket."),
    }

    #: Builds the backend for new adapters; the Django side may replace it
    #: with a database-table backend shared by every process.
    backend_factory: ClassVar[Callable[[], SandboxBackend]] = staticmethod(default_backend)
    #: What "the process dies" means. Tests replace it (on the class with
    #: ``staticmethod(...)``, or on an instance) with raising SimulatedCrash.
    crash: Callable[[], Any] = staticmethod(_default_crash)
    #: How latency is waited for.
    sleep: Callable[[float], Any] = staticmethod(time.sleep)

    def __init__(
        self,
        credentials: Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        *,
        backend: SandboxBackend | None = None,
    ) -> None:
        super().__init__(credentials, endpoint_url)
        self.backend = backend if backend is not None else type(self).backend_factory()

    # --- credentials -------------------------------------------------------
    def validate_credentials(self) -> CredentialCheck:
        return CredentialCheck(ok=True, reason="the sandbox needs no credentials")

    # --- lifecycle ---------------------------------------------------------
    def create(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult:
        self.resource_type(resource_type)
        values = self._values(spec)
        self._delay(values)
        self._maybe_fail_transiently(values, token, "create")
        if values.get("fail") == "permanent":
            raise ProviderError(
                "sandbox: injected permanent failure on create", permanent=True, code="injected"
            )
        now = time.time()
        record = SandboxRecord(
            id=f"{_PREFIX.get(resource_type, 'sbx')}-{uuid.uuid4().hex[:16]}",
            token=token,
            resource_type=resource_type,
            name=values["name"],
            size=values.get("size"),
            spec=values,
            created_at=now,
            updated_at=now,
        )
        try:
            stored, inserted = self.backend.insert(record)
        except NameTaken:
            raise AlreadyExists(
                f"a sandbox {resource_type} named {values['name']!r}", code="name_taken"
            ) from None
        if inserted and values.get("fail") == "crash-after-create":
            self.crash()
        return self._result(stored)

    def find(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult | None:
        self.resource_type(resource_type)
        values = self._values(spec)
        self._delay(values)
        self._maybe_fail_transiently(values, token, "find")
        record = self.backend.get_by_token(token)
        if record is None or record.resource_type != resource_type:
            return None
        return self._result(record)

    def read(
        self, resource_type: str, provider_resource_id: str, spec: SpecModel | None
    ) -> ResourceResult | None:
        record = self._get(resource_type, provider_resource_id)
        if record is None:
            return None
        self._delay(record.spec)
        self._maybe_fail_transiently(record.spec, record.token, "read")
        record = self._get(resource_type, provider_resource_id)
        return self._result(record) if record is not None else None

    def update(
        self,
        resource_type: str,
        provider_resource_id: str,
        old: SpecModel,
        new: SpecModel,
    ) -> ResourceResult:
        values = self._values(new)
        record = self._get(resource_type, provider_resource_id)
        if record is None:
            raise ProviderError(
                f"sandbox {resource_type} {provider_resource_id} does not exist",
                permanent=True,
                code="not_found",
            )
        self._delay(values)
        self._maybe_fail_transiently(values, record.token, "update")
        if values["name"] != record.name:
            raise ProviderError(
                "sandbox: a resource's name cannot change in place",
                permanent=True,
                code="replace_required",
            )
        changed = replace(record, size=values.get("size"), spec=values, updated_at=time.time())
        try:
            return self._result(self.backend.update(changed))
        except KeyError:
            raise ProviderError(
                f"sandbox {resource_type} {provider_resource_id} does not exist",
                permanent=True,
                code="not_found",
            ) from None

    def delete(self, resource_type: str, provider_resource_id: str, spec: SpecModel | None) -> None:
        record = self._get(resource_type, provider_resource_id)
        if record is None:
            return
        self._delay(record.spec)
        self._maybe_fail_transiently(record.spec, record.token, "delete")
        self.backend.delete(provider_resource_id)

    # --- discovery -----------------------------------------------------------
    def sync(self) -> Iterator[SyncedResource]:
        for record in self.backend.all():
            rtype = self.resource_types.get(record.resource_type)
            if rtype is None or rtype.table is None:
                continue
            yield SyncedResource(
                table=rtype.table, resource_type=rtype.name, result=self._result(record)
            )

    def read_back(self, resource_type: str, provider_resource_id: str) -> ReadBack | None:
        """A sandbox resource is its name and size (fault injection is not imported)."""
        result = self.read(resource_type, provider_resource_id, None)
        if result is None:
            return None
        properties = {"name": result.outputs["name"]}
        if result.outputs.get("size") is not None:
            properties["size"] = result.outputs["size"]
        return ReadBack(result=result, properties=properties)

    # --- helpers -------------------------------------------------------------
    def _get(self, resource_type: str, record_id: str) -> SandboxRecord | None:
        self.resource_type(resource_type)
        record = self.backend.get(record_id)
        if record is None or record.resource_type != resource_type:
            return None
        return record

    @staticmethod
    def _values(spec: SpecModel) -> dict[str, Any]:
        return spec.model_dump(mode="json")

    def _delay(self, values: Mapping[str, Any]) -> None:
        latency = values.get("latency_ms")
        if latency:
            self.sleep(latency / 1000)

    def _maybe_fail_transiently(self, values: Mapping[str, Any], token: str, op: str) -> None:
        if values.get("fail") != "transient":
            return
        if self.backend.bump_attempt(f"{token}:{op}") <= TRANSIENT_FAILURES:
            raise ProviderError(
                f"sandbox: injected transient failure on {op}", permanent=False, code="injected"
            )

    def _result(self, record: SandboxRecord) -> ResourceResult:
        return ResourceResult(
            provider_resource_id=record.id,
            outputs={"id": record.id, "name": record.name, "size": record.size},
            universal=_universal(record),
            full_api_data={
                "id": record.id,
                "type": record.resource_type,
                "name": record.name,
                "size": record.size,
                "region": REGION,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
            },
        )


def _universal(record: SandboxRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": record.name,
        "status": _STATUS.get(record.resource_type, "active"),
        "region": REGION,
    }
    kind = record.resource_type
    if kind == "server":
        data["primary_ip"] = _ip_for(record.id)
        data["instance_type"] = record.size or "standard"
    elif kind == "bucket":
        data["endpoint"] = f"https://{record.name}.buckets.sandbox.invalid"
    elif kind == "database":
        data["engine"] = "sandbox"
        data["endpoint"] = f"{record.name}.db.sandbox.invalid:5432"
    elif kind == "web-service":
        data["production_url"] = f"https://{record.name}.apps.sandbox.invalid"
    elif kind == "domain":
        data["domain_name"] = record.name
    return data


def _ip_for(record_id: str) -> str:
    """A private 10.x.y.z address derived from the id (stable, no 0/255 host)."""
    digest = hashlib.sha256(record_id.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{1 + digest[2] % 254}"
