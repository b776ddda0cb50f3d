"""What every AWS resource handler implements, and small shared helpers."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from docks.adapters.base import (
    NotImportable,
    ProviderError,
    ReadBack,
    ResourceResult,
    ResourceType,
    SpecModel,
    SyncedResource,
)

from ..session import AwsClients

#: Tag holding the engine's idempotency token where AWS has no client token.
TOKEN_TAG = "stackdock:token"  # noqa: S105 - a tag name, not a secret


class ResourceHandler(ABC):
    """Lifecycle of one resource type, on the clients of one dock."""

    resource_type: ClassVar[ResourceType]

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    @abstractmethod
    def create(self, spec: Any, token: str) -> ResourceResult: ...

    @abstractmethod
    def find(self, spec: Any, token: str) -> ResourceResult | None: ...

    @abstractmethod
    def read(self, provider_id: str, spec: Any | None) -> ResourceResult | None: ...

    @abstractmethod
    def update(self, provider_id: str, old: Any, new: Any) -> ResourceResult: ...

    @abstractmethod
    def delete(self, provider_id: str, spec: Any | None) -> None: ...

    def sync(self) -> Iterator[SyncedResource]:
        return iter(())

    # --- import ---------------------------------------------------------------
    def read_back(self, provider_id: str) -> ReadBack | None:
        """``read``, and the spec properties that describe what it read."""
        result = self.read(provider_id, None)
        if result is None:
            return None
        notes: list[str] = []
        properties = self.spec_from(result, notes)
        return ReadBack(result=result, properties=properties, notes=notes)

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        """The spec properties of a resource as ``read`` described it; what the spec
        cannot hold is left out with a note (or raises ``NotImportable``)."""
        raise NotImportable(f"StackDock cannot import an AWS {self.resource_type.name}")

    # --- helpers ------------------------------------------------------------
    def region_of(self, spec: SpecModel | None) -> str:
        """The spec's region, or the dock's default region."""
        region = getattr(spec, "region", None) if spec is not None else None
        return region or self.clients.region

    def target_region(self, spec: SpecModel) -> str:
        """The region to create in; refused when the dock limits sync to other regions."""
        region = self.region_of(spec)
        limited = self.clients.limited_regions
        if limited is not None and region not in limited:
            raise ProviderError(
                f"region {region} is outside this dock's sync regions ({', '.join(limited)}); "
                "add it to sync_regions first, or sync would report the resource as gone",
                permanent=True,
                code="region_not_synced",
            )
        return region

    def refuse_replacement_change(self, old: SpecModel, new: SpecModel) -> None:
        """Fail clearly if an update is asked to change a field that forces replacement."""
        changed = sorted(
            f for f in self.resource_type.replace_fields if getattr(old, f) != getattr(new, f)
        )
        if changed:
            raise ProviderError(
                f"{', '.join(changed)} cannot change in place; the resource must be replaced",
                permanent=True,
                code="replace_required",
            )

    def synced(self, result: ResourceResult) -> SyncedResource:
        return SyncedResource(
            table=self.resource_type.table or "",
            resource_type=self.resource_type.name,
            result=result,
        )


def user_tags(
    tags: dict[str, str], notes: list[str], *, also: tuple[str, ...] = ()
) -> dict[str, str]:
    """The tags a spec may hold: those with a reserved prefix (``aws:``, ``stackdock:``)
    and the keys in ``also`` are left out, with a note naming the reserved ones."""
    kept = {k: v for k, v in tags.items() if k not in also}
    reserved = sorted(k for k in kept if k.lower().startswith(("aws:", "stackdock:")))
    if reserved:
        notes.append(
            f"tags {', '.join(reserved)} use a reserved prefix (aws:, stackdock:), which a "
            "spec cannot hold: left out"
        )
    return {k: v for k, v in kept.items() if k not in reserved}


def bounded_token(token: str, max_length: int) -> str:
    """``token`` if it fits AWS's limit, else a stable SHA-256 digest of it (hex, cut to fit)."""
    if len(token) <= max_length and token.isascii() and token.isprintable():
        return token
    return hashlib.sha256(token.encode()).hexdigest()[:max_length]


def regional_id(region: str, native_id: str) -> str:
    """Provider resource id for regional resources: ``<region>/<id>``."""
    return f"{region}/{native_id}"


def split_regional_id(provider_id: str, default_region: str) -> tuple[str, str]:
    """``(region, native id)`` from ``<region>/<id>`` (or a bare id in ``default_region``)."""
    if "/" in provider_id:
        region, native = provider_id.split("/", 1)
        return region, native
    return default_region, provider_id
