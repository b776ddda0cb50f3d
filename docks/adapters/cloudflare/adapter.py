"""CloudflareAdapter: zones, DNS records, Workers, R2 and D1 through the official SDK."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import cloudflare
import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from docks.adapters.base import (
    Adapter,
    CredentialCheck,
    CredentialsRejected,
    ProviderError,
    ReadBack,
    ResourceResult,
    ResourceType,
    SpecModel,
    SyncedResource,
)
from docks.adapters.endpoint import NotAnApi, check_endpoint, guard_request
from stackdock.outbound import reason_for

from .context import Context, Handler
from .d1 import D1DatabaseHandler
from .dns import DnsRecordHandler
from .errors import call_translated, translate
from .r2 import R2BucketHandler
from .specs import (
    CloudflareCredentials,
    D1DatabaseSpec,
    DnsRecordSpec,
    R2BucketSpec,
    WorkerSpec,
    ZoneSpec,
)
from .workers import WorkerHandler
from .zones import ZoneHandler

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

RESOURCE_TYPES: dict[str, ResourceType] = {
    "zone": ResourceType(
        name="zone",
        key_fields=("name",),
        table="domains",
        spec_model=ZoneSpec,
        replace_fields=frozenset({"name"}),
        outputs=("id", "name", "name_servers", "status"),
        description="A domain on Cloudflare (a zone). Point the registrar at name_servers.",
    ),
    "dns-record": ResourceType(
        name="dns-record",
        key_fields=("zone", "type", "name", "content"),
        table=None,
        spec_model=DnsRecordSpec,
        replace_fields=frozenset({"zone", "type"}),
        outputs=("id", "name", "content", "zone_id"),
        description="A DNS record (A, AAAA, CNAME, TXT, MX, NS, PTR) in a zone.",
    ),
    "worker": ResourceType(
        name="worker",
        key_fields=("name",),
        table="web-services",
        spec_model=WorkerSpec,
        replace_fields=frozenset({"name"}),
        outputs=("id", "name", "url"),
        description="A Workers script (ES module), served at https://<name>.<sub>.workers.dev.",
    ),
    "r2-bucket": ResourceType(
        name="r2-bucket",
        key_fields=("name",),
        table="buckets",
        spec_model=R2BucketSpec,
        replace_fields=frozenset({"name", "location_hint"}),
        outputs=("id", "name", "endpoint"),
        description="An R2 object storage bucket (S3-compatible endpoint).",
    ),
    "d1-database": ResourceType(
        name="d1-database",
        key_fields=("name",),
        table="databases",
        spec_model=D1DatabaseSpec,
        replace_fields=frozenset({"name", "primary_location_hint"}),
        outputs=("id", "name"),
        description="A D1 serverless SQLite database.",
    ),
}

_HANDLERS: dict[str, type[Handler]] = {
    "zone": ZoneHandler,
    "dns-record": DnsRecordHandler,
    "worker": WorkerHandler,
    "r2-bucket": R2BucketHandler,
    "d1-database": D1DatabaseHandler,
}

#: what sync walks, in this order
_SYNCED = ("zone", "worker", "r2-bucket", "d1-database")

#: answers from token verify meaning "this token is not accepted"
_REJECTED = (
    cloudflare.AuthenticationError,
    cloudflare.PermissionDeniedError,
    cloudflare.BadRequestError,
)


def _validation_message(exc: ValidationError) -> str:
    """Field and rule for each problem, never the input value (it may be a secret)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "spec"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


#: Cloudflare's error codes for a refused token, in our words: a check quotes nothing
#: the endpoint sent (an override may point at any allowed host)
TOKEN_ERRORS = {
    1000: "Invalid API Token",
    6003: "Invalid request headers",
    6111: "Invalid format for Authorization header",
    9109: "Invalid access token",
    10000: "Authentication error",
}
#: token statuses Cloudflare reports, in our words
TOKEN_STATUSES = {"active": "active", "disabled": "disabled", "expired": "expired"}


def _rejection_reason(exc: cloudflare.APIStatusError) -> str:
    """Why Cloudflare refused a token, from the error codes it sent (known ones only)."""
    parts = []
    for error in exc.errors or []:
        words = [TOKEN_ERRORS.get(getattr(error, "code", None) or 0)]
        chain = getattr(error, "error_chain", None) or []
        for link in chain:
            code = link.get("code") if isinstance(link, dict) else getattr(link, "code", None)
            words.append(TOKEN_ERRORS.get(code or 0))
        known = [w for w in words if w]
        if known:
            parts.append(": ".join(known))
    return "; ".join(parts) or f"HTTP {exc.status_code}"


#: the one call whose answer is not JSON: a Worker's source (read by an import, which
#: the SDK hands over as bytes)
_RAW_ANSWERS = ("/content/v2",)


def _json_answers_only(response: httpx.Response) -> None:
    """httpx response hook for an endpoint override: Cloudflare's API answers JSON; a
    success in anything else comes from another kind of server (the SDK would fail on
    it with an AttributeError)."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.request.url.path.endswith(_RAW_ANSWERS):
        return
    if response.is_success and not (kind == "application/json" or kind.endswith("+json")):
        raise NotAnApi("the answer is not JSON")


class CloudflareAdapter(Adapter):
    """One Cloudflare account, reached with an API token through the official SDK.

    ``max_retries``, ``timeout`` and ``strict_validation`` go to the SDK client;
    tests pass ``max_retries=0, strict_validation=True`` so that the SDK's own
    models check every response of the emulator.
    """

    provider: ClassVar[str] = "cloudflare"
    label: ClassVar[str] = "Cloudflare"
    credentials_model = CloudflareCredentials
    resource_types: ClassVar[dict[str, ResourceType]] = RESOURCE_TYPES

    def __init__(
        self,
        credentials: Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        *,
        max_retries: int = 2,
        timeout: float = 30.0,
        strict_validation: bool = False,
    ) -> None:
        super().__init__(credentials, endpoint_url)
        self._max_retries = max_retries
        self._timeout = timeout
        self._strict_validation = strict_validation
        self._lock = threading.Lock()
        self._context: Context | None = None
        self._handlers: dict[str, Handler] = {}

    # --- plumbing ---------------------------------------------------------------
    def _credentials(self) -> CloudflareCredentials:
        try:
            return CloudflareCredentials.model_validate(self.credentials)
        except ValidationError as exc:
            raise CredentialsRejected(
                f"Cloudflare credentials are incomplete: {_validation_message(exc)}",
                code="invalid_credentials",
            ) from None

    def _secret(self) -> str | None:
        value = self.credentials.get("api_token")
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value if isinstance(value, str) and value else None

    def _ctx(self) -> Context:
        with self._lock:
            if self._context is None:
                creds = self._credentials()
                check_endpoint(self.endpoint_url)
                client = cloudflare.Cloudflare(
                    api_token=creds.api_token.get_secret_value(),
                    base_url=self.endpoint_url or DEFAULT_BASE_URL,
                    max_retries=self._max_retries,
                    timeout=self._timeout,
                    _strict_response_validation=self._strict_validation,
                    http_client=self._guarded_http_client() if self.endpoint_url else None,
                )
                # The SDK would also pick up a Global API Key / e-mail / service key
                # from the worker's environment and prefer them to the token: this
                # dock's token, and only it, may authenticate its calls.
                client.api_key = None
                client.api_email = None
                client.user_service_key = None
                self._context = Context(client, creds.account_id)
            return self._context

    def _guarded_http_client(self) -> httpx.Client:
        """The SDK's own httpx defaults, plus the outbound policy before every request
        (redirects are not followed: the token goes to the endpoint entered, only)."""
        return cloudflare.DefaultHttpxClient(
            timeout=self._timeout,
            follow_redirects=False,
            event_hooks={
                "request": [lambda request: guard_request(str(request.url))],
                "response": [_json_answers_only],
            },
        )

    def _handler(self, resource_type: str) -> Handler:
        self.resource_type(resource_type)  # unknown type -> ProviderError
        ctx = self._ctx()
        with self._lock:
            handler = self._handlers.get(resource_type)
            if handler is None:
                handler = self._handlers[resource_type] = _HANDLERS[resource_type](ctx)
            return handler

    def _spec(self, resource_type: str, spec: Any) -> SpecModel:
        model = self.resource_type(resource_type).spec_model
        if isinstance(spec, model):
            return spec
        data = spec.model_dump() if isinstance(spec, BaseModel) else spec
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ProviderError(
                f"invalid {resource_type} spec: {_validation_message(exc)}",
                permanent=True,
                code="invalid_spec",
            ) from None

    def _call(self, fn: Callable[[], T]) -> T:
        return call_translated(fn, secret=self._secret())

    # --- credentials -------------------------------------------------------------
    def validate_credentials(self) -> CredentialCheck:
        """Verify the token (user-owned, else account-owned). A refused token is a
        CredentialCheck(ok=False) with Cloudflare's reason (from its known error codes,
        quoting nothing the endpoint sent); network trouble, rate limits and 5xx raise
        a transient ProviderError, an endpoint the outbound policy refuses a permanent
        one (code ``endpoint_refused``)."""
        try:
            ctx = self._ctx()
        except CredentialsRejected as exc:
            return CredentialCheck(ok=False, reason=exc.message)
        try:
            return self._call(lambda: self._verify(ctx))
        except ProviderError as exc:
            if not exc.permanent or exc.code == "endpoint_refused":
                raise
            return CredentialCheck(
                ok=False, reason=f"the Cloudflare endpoint {reason_for(exc.kind)}"
            )

    def _verify(self, ctx: Context) -> CredentialCheck:
        reason: str | None = None
        kind = "user"
        result: Any
        try:
            result = ctx.client.user.tokens.verify()
        except _REJECTED as exc:
            if not (exc.errors or []):  # no Cloudflare envelope: another kind of server
                raise translate(exc, secret=self._secret()) from None
            reason = _rejection_reason(exc)
            result = None
        if result is None:
            kind = "account"
            try:
                result = ctx.client.accounts.tokens.verify(account_id=ctx.account_id)
            except _REJECTED:
                result = None
        if result is None:
            return CredentialCheck(
                ok=False, reason=f"Cloudflare rejected the API token: {reason or 'not recognised'}"
            )
        identity = {
            "token_id": result.id,
            "token_status": result.status,
            "token_kind": kind,
            "account_id": ctx.account_id,
        }
        if result.status != "active":
            status = TOKEN_STATUSES.get(str(result.status), "not active")
            return CredentialCheck(
                ok=False, reason=f"Cloudflare API token is {status}", identity=identity
            )
        return CredentialCheck(
            ok=True,
            reason=f"Cloudflare API token is valid and active ({kind} token)",
            identity=identity,
        )

    # --- lifecycle -------------------------------------------------------------------
    def create(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult:
        """Cloudflare's APIs take no client token: idempotent by name (look up, adopt)."""
        valid = self._spec(resource_type, spec)
        handler = self._handler(resource_type)
        return self._call(lambda: handler.create(valid))

    def find(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult | None:
        valid = self._spec(resource_type, spec)
        handler = self._handler(resource_type)
        return self._call(lambda: handler.find(valid))

    def read(
        self, resource_type: str, provider_resource_id: str, spec: SpecModel | None
    ) -> ResourceResult | None:
        valid = self._spec(resource_type, spec) if spec is not None else None
        handler = self._handler(resource_type)
        return self._call(lambda: handler.read(provider_resource_id, valid))

    def update(
        self, resource_type: str, provider_resource_id: str, old: SpecModel, new: SpecModel
    ) -> ResourceResult:
        old_spec = self._spec(resource_type, old)
        new_spec = self._spec(resource_type, new)
        replace = self.resource_type(resource_type).replace_fields
        changed = sorted(f for f in replace if getattr(old_spec, f) != getattr(new_spec, f))
        if changed:
            raise ProviderError(
                f"{resource_type}: changing {', '.join(changed)} needs a replacement, not an update",
                permanent=True,
                code="requires_replacement",
            )
        handler = self._handler(resource_type)
        return self._call(lambda: handler.update(provider_resource_id, old_spec, new_spec))

    def delete(self, resource_type: str, provider_resource_id: str, spec: SpecModel | None) -> None:
        valid = self._spec(resource_type, spec) if spec is not None else None
        handler = self._handler(resource_type)
        self._call(lambda: handler.delete(provider_resource_id, valid))

    def read_back(self, resource_type: str, provider_resource_id: str) -> ReadBack | None:
        handler = self._handler(resource_type)
        return self._call(lambda: handler.read_back(provider_resource_id))

    # --- discovery ------------------------------------------------------------------------
    def sync(self) -> Iterator[SyncedResource]:
        """Zones, Workers, R2 buckets and D1 databases of the account.

        A product the token may not read (HTTP 403) is skipped with a warning, so
        a least-privilege token (say, DNS only) still syncs what it can see.
        """
        for resource_type in _SYNCED:
            table = RESOURCE_TYPES[resource_type].table
            assert table is not None
            for result in self._sync_one(resource_type):
                yield SyncedResource(table=table, resource_type=resource_type, result=result)

    def _sync_one(self, resource_type: str) -> list[ResourceResult]:
        handler = self._handler(resource_type)
        try:
            return list(handler.sync())
        except cloudflare.PermissionDeniedError:
            log.warning(
                "Cloudflare sync skipped %s: the API token may not list them", resource_type
            )
            self.sync_skipped.add(resource_type)
            return []
        except cloudflare.APIError as exc:
            error = translate(exc, secret=self._secret())
        raise error
