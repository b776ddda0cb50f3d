"""The adapter contract every provider package implements.

Adapters take plain values (a credentials dict, an optional endpoint override,
a validated spec) and return plain values. They never import Django or touch
the ORM: the Django side maps their results onto the universal tables.

One adapter instance talks to one provider account (one dock). The engine's
registry (``provisioning.engine.registry``) holds adapter *classes*; the
Django side instantiates one per dock with decrypted credentials.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from stackdock.utils.messages import rule_words

#: The universal tables an adapter can fill, by their API/URL name.
UNIVERSAL_TABLES = ("servers", "web-services", "domains", "databases", "buckets")

#: What stands in for a secret wherever a value must not be shown.
CENSOR = "********"


class ProviderError(Exception):
    """Any failure talking to a provider.

    ``permanent`` decides what the engine does: a transient error (throttling,
    5xx, a dropped connection) is retried with backoff; a permanent one
    (rejected credentials, invalid input, a name taken by someone else) fails
    the step at once with ``message``, which must be something a user can act
    on and must never contain a credential.

    ``kind`` classifies how the endpoint failed, for words that quote nothing
    it sent (``stackdock.outbound.REASONS``: ``refused``, ``unreachable``,
    ``timeout``, ``tls``, ``not_api``, ``rejected``, ``denied``,
    ``unavailable``); None when it answered like the API, with an error of
    its own.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        retry_after: float | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.kind = kind

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"{type(self).__name__}({self.message!r}, {kind}, code={self.code!r})"


class CredentialsRejected(ProviderError):
    """The provider refused the credentials (always permanent)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, permanent=True, code=code, kind="rejected")


class AlreadyExists(ProviderError):
    """A create found the resource already at the provider (always permanent).

    StackDock never takes over a resource it did not make: a create adopts an
    existing resource only when StackDock's own write-ahead record proves it made
    it (crash recovery, or a retry within one step after a transient error), and
    the engine decides that, not the adapter. Anything else is imported explicitly.
    """

    def __init__(self, what: str, *, code: str = "already_exists") -> None:
        super().__init__(
            f"{what} already exists at the provider and was not created by this StackDock "
            "resource. To manage it with StackDock, sync the dock and import its row "
            "(stackdock import TABLE ID [--stack NAME --as RESOURCE], "
            "POST /api/v1/TABLE/ID/import, or Manage with StackDock on its page); "
            "or choose another name",
            permanent=True,
            code=code,
        )


class NotImportable(ProviderError):
    """A resource StackDock cannot describe with its type's spec, so cannot import
    (always permanent): the message says what it has that the spec cannot express."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True, code="not_importable")


class SpecModel(BaseModel):
    """Base for resource spec models: unknown fields are an error, not ignored."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=rule_words
    )


class CredentialsModel(BaseModel):
    """Base for provider credentials models.

    Mark sensitive fields with ``Field(json_schema_extra={"secret": True})``
    (or type them ``SecretStr``); forms render them as password inputs and
    nothing ever displays them.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=rule_words
    )

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        out = set()
        for name, f in cls.model_fields.items():
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            if extra.get("secret") or "SecretStr" in repr(f.annotation):
                out.add(name)
        return frozenset(out)


@dataclass(frozen=True)
class CredentialCheck:
    """The result of ``validate_credentials``: ``reason`` is shown to the user and
    must quote nothing the endpoint sent (an override may point anywhere allowed)."""

    ok: bool
    reason: str
    identity: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceType:
    """What the registry knows about one resource type of one provider."""

    name: str  # e.g. "s3-bucket"
    table: str | None  # one of UNIVERSAL_TABLES, or None (e.g. a DNS record)
    spec_model: type[SpecModel]
    #: spec fields whose change forces delete-and-recreate
    replace_fields: frozenset[str] = frozenset()
    #: output names this type exposes to ``${name.attr}`` references
    outputs: tuple[str, ...] = ("id", "name")
    #: spec fields that hold secrets: masked in plans, never stored in clear
    secret_fields: frozenset[str] = frozenset()
    #: spec fields that may change in place (everything else not in
    #: replace_fields is also updatable; this is documentation for forms)
    description: str = ""
    #: spec fields the provider tells resources of this type apart by, within one
    #: account (a bucket's name): StackDock lets one record manage each such key on
    #: a dock. Empty where the provider makes every create a new resource (EC2).
    key_fields: tuple[str, ...] = ()

    def key_of(self, properties: Mapping[str, Any]) -> str | None:
        """The provider key these properties name, or None when the type has none or
        a key field is not known yet (a ``${ref}`` resolved only at apply time)."""
        if not self.key_fields:
            return None
        parts = []
        for name in self.key_fields:
            value = properties.get(name)
            if value is None or "${" in str(value):
                return None
            parts.append(str(value).strip().lower())
        return "/".join(parts)


@dataclass
class ResourceResult:
    """What a create/read/update returns.

    ``outputs`` feed references and state; ``universal`` holds the columns of
    the universal table (``name``, ``status``, ``region`` and the type-specific
    ones such as ``primary_ip``, ``endpoint``, ``production_url``);
    ``full_api_data`` is the provider's own description with every secret
    removed.
    """

    provider_resource_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    universal: dict[str, Any] = field(default_factory=dict)
    full_api_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadBack:
    """A resource as an import reads it (``Adapter.read_back``).

    ``result`` is what ``read`` returns; ``properties`` the spec properties that
    describe the resource as it is (the caller validates them with the type's spec
    model); ``notes`` say, in words, what the provider does not report and what the
    properties assume instead.
    """

    result: ResourceResult
    properties: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class SyncedResource:
    """One resource found by ``sync``: which table it belongs to and its data."""

    table: str
    resource_type: str | None
    result: ResourceResult


class Adapter(ABC):
    """One provider account. Subclasses set the class attributes and methods."""

    provider: ClassVar[str]
    label: ClassVar[str]
    credentials_model: ClassVar[type[CredentialsModel]]
    resource_types: ClassVar[dict[str, ResourceType]]
    #: True for providers that need no credentials (the sandbox)
    credentialless: ClassVar[bool] = False

    def __init__(
        self, credentials: Mapping[str, Any] | None = None, endpoint_url: str | None = None
    ) -> None:
        self.credentials = dict(credentials or {})
        self.endpoint_url = endpoint_url or None
        #: resource types the last ``sync`` could not list (e.g. the token may not
        #: read them); their rows are neither deleted nor marked drifted
        self.sync_skipped: set[str] = set()

    def __repr__(self) -> str:  # never show credentials
        return f"<{type(self).__name__} endpoint={self.endpoint_url!r}>"

    @classmethod
    def dock_defaults(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """Spec values a resource of this dock gets when its spec leaves them out (the
        AWS dock's default region). Non-secret: stored on the dock in clear, so a plan
        compares a resource's effective values without decrypting anything."""
        return {}

    # --- credentials -----------------------------------------------------
    @abstractmethod
    def validate_credentials(self) -> CredentialCheck:
        """One cheap live call proving the credentials work."""

    # --- lifecycle, per resource type ---------------------------------------
    @abstractmethod
    def create(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult:
        """Create the resource. Must be idempotent for the same ``token``.

        ``token`` is a deterministic idempotency key (the engine derives it
        from stack, resource and generation). Use it as a provider client
        token where the API has one (EC2 ``ClientToken``): a resource made with
        this token is this create's own and is returned. A resource that exists
        under the spec's name without that proof (``BucketAlreadyOwnedByYou``, a
        Cloudflare zone or script of that name) raises ``AlreadyExists``: never
        adopt it here.
        """

    @abstractmethod
    def find(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult | None:
        """Look for a resource a previous, interrupted ``create`` may have made.

        Used for crash recovery: returns it if it exists (by client token or
        deterministic name), else None. Never creates anything.
        """

    @abstractmethod
    def read(
        self, resource_type: str, provider_resource_id: str, spec: SpecModel | None
    ) -> ResourceResult | None:
        """Current state at the provider, or None when it no longer exists."""

    @abstractmethod
    def update(
        self,
        resource_type: str,
        provider_resource_id: str,
        old: SpecModel,
        new: SpecModel,
    ) -> ResourceResult:
        """Change in place the fields not listed in ``replace_fields``."""

    @abstractmethod
    def delete(self, resource_type: str, provider_resource_id: str, spec: SpecModel | None) -> None:
        """Delete it. Deleting something already gone is success."""

    # --- discovery ------------------------------------------------------
    def sync(self) -> Iterator[SyncedResource]:
        """Every resource of the account that belongs in a universal table."""
        return iter(())

    def read_back(self, resource_type: str, provider_resource_id: str) -> ReadBack | None:
        """Read an existing resource and describe it as spec properties, for an import
        (None when it no longer exists). Only reads: nothing at the provider changes.
        Raises ``NotImportable`` when the resource has something the spec cannot
        express, so that managing it would change or lose it."""
        raise NotImportable(f"StackDock cannot import a {self.label} {resource_type} yet")

    # --- helpers --------------------------------------------------------
    @classmethod
    def resource_type(cls, name: str) -> ResourceType:
        try:
            return cls.resource_types[name]
        except KeyError:
            valid = ", ".join(sorted(cls.resource_types))
            raise ProviderError(
                f"unknown resource type {name!r} for provider {cls.provider!r}; valid: {valid}",
                permanent=True,
                code="unknown_type",
            ) from None
