"""``AwsAdapter``: one AWS account (one dock), through boto3."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

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
from docks.adapters.endpoint import check_endpoint
from stackdock.outbound import reason_for

from .credentials import AwsCredentials
from .errors import CREDENTIAL_CODES, translated
from .resources.base import ResourceHandler
from .resources.ec2 import Ec2InstanceHandler
from .resources.rds import RdsInstanceHandler
from .resources.route53 import Route53RecordHandler, Route53ZoneHandler
from .resources.s3 import S3BucketHandler
from .session import AwsClients, WaitPolicy, shared_clients

T = TypeVar("T")

HANDLERS: tuple[type[ResourceHandler], ...] = (
    S3BucketHandler,
    Ec2InstanceHandler,
    RdsInstanceHandler,
    Route53ZoneHandler,
    Route53RecordHandler,
)

#: Credential fields scrubbed from every message.
_SECRET_KEYS = ("access_key_id", "secret_access_key", "session_token")


class AwsAdapter(Adapter):
    """Amazon Web Services: S3 buckets, EC2 instances, RDS instances, Route 53 zones and records.

    ``endpoint_url`` (moto, LocalStack, MinIO...) replaces the endpoint of every
    client. All failures leave as ``ProviderError`` (transient or permanent).
    """

    provider: ClassVar[str] = "aws"
    label: ClassVar[str] = "Amazon Web Services"
    credentials_model: ClassVar[type[AwsCredentials]] = AwsCredentials
    handlers: ClassVar[dict[str, type[ResourceHandler]]] = {
        h.resource_type.name: h for h in HANDLERS
    }
    resource_types: ClassVar[dict[str, ResourceType]] = {
        name: h.resource_type for name, h in handlers.items()
    }
    #: How waiters poll (instance running, DB available...). Tests shorten it.
    wait_policy: WaitPolicy = WaitPolicy()

    def __init__(
        self, credentials: Mapping[str, Any] | None = None, endpoint_url: str | None = None
    ) -> None:
        super().__init__(credentials, endpoint_url)
        self._clients: AwsClients | None = None
        self._lock = threading.Lock()

    @classmethod
    def dock_defaults(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        return {"region": credentials.get("region") or "us-east-1"}

    # --- credentials -------------------------------------------------------
    def validate_credentials(self) -> CredentialCheck:
        """``sts:GetCallerIdentity``; network trouble raises a transient ProviderError, an
        endpoint the outbound policy refuses a permanent one (code ``endpoint_refused``).
        A refusal's reason quotes nothing the endpoint sent."""
        try:
            with translated("checking the AWS credentials", self._secrets()):
                identity = self.clients().client("sts").get_caller_identity()
        except CredentialsRejected as exc:
            return CredentialCheck(ok=False, reason=self._rejection_reason(exc))
        except ProviderError as exc:
            if not exc.permanent or exc.code == "endpoint_refused":
                raise
            if exc.code == "invalid_credentials":  # our own words, before any request
                return CredentialCheck(ok=False, reason=exc.message)
            return CredentialCheck(ok=False, reason=f"the AWS endpoint {reason_for(exc.kind)}")
        arn = identity.get("Arn", "")
        return CredentialCheck(
            ok=True,
            reason=f"authenticated as {arn}",
            identity={"account": identity.get("Account"), "arn": arn},
        )

    # --- lifecycle -----------------------------------------------------------
    def create(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult:
        handler, spec = self._handler(resource_type, spec)
        return self._call(f"creating {resource_type} {_label(spec)}", handler.create, spec, token)

    def find(self, resource_type: str, spec: SpecModel, *, token: str) -> ResourceResult | None:
        handler, spec = self._handler(resource_type, spec)
        return self._call(f"looking for {resource_type} {_label(spec)}", handler.find, spec, token)

    def read(
        self, resource_type: str, provider_resource_id: str, spec: SpecModel | None
    ) -> ResourceResult | None:
        handler, spec = self._handler(resource_type, spec)
        action = f"reading {resource_type} {provider_resource_id!r}"
        return self._call(action, handler.read, provider_resource_id, spec)

    def update(
        self,
        resource_type: str,
        provider_resource_id: str,
        old: SpecModel,
        new: SpecModel,
    ) -> ResourceResult:
        handler, old = self._handler(resource_type, old)
        _, new = self._handler(resource_type, new)
        action = f"updating {resource_type} {provider_resource_id!r}"
        return self._call(action, handler.update, provider_resource_id, old, new)

    def delete(self, resource_type: str, provider_resource_id: str, spec: SpecModel | None) -> None:
        handler, spec = self._handler(resource_type, spec)
        action = f"deleting {resource_type} {provider_resource_id!r}"
        self._call(action, handler.delete, provider_resource_id, spec)

    def read_back(self, resource_type: str, provider_resource_id: str) -> ReadBack | None:
        handler, _ = self._handler(resource_type, None)
        action = f"reading {resource_type} {provider_resource_id!r} to import it"
        return self._call(action, handler.read_back, provider_resource_id)

    def sync(self) -> Iterator[SyncedResource]:
        """EC2 instances, RDS instances, Route 53 zones and S3 buckets.

        Any failure aborts the whole sync (rather than skipping a service), so
        a caller never mistakes "could not list" for "nothing there".
        """
        for name, handler_cls in self.handlers.items():
            if handler_cls.resource_type.table is None:
                continue
            with translated(f"syncing {name}", self._secrets()):
                yield from handler_cls(self.clients()).sync()

    # --- plumbing ----------------------------------------------------------------
    def clients(self) -> AwsClients:
        """The dock's boto3 clients (built once, on first use)."""
        with self._lock:
            if self._clients is None:
                check_endpoint(self.endpoint_url)
                self._clients = shared_clients.get(
                    self._parsed_credentials(), self.endpoint_url, self.wait_policy
                )
            return self._clients

    def _parsed_credentials(self) -> AwsCredentials:
        try:
            return AwsCredentials.model_validate(self.credentials)
        except ValidationError as exc:
            # Only field names and rules: pydantic's own text would echo the input.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'credentials'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise ProviderError(
                f"the AWS credentials are invalid: {problems}",
                permanent=True,
                code="invalid_credentials",
            ) from None

    def _secrets(self) -> list[str]:
        values = [self.credentials.get(k) for k in _SECRET_KEYS]
        return sorted((v for v in values if isinstance(v, str) and v), key=len, reverse=True)

    def _handler(self, resource_type: str, spec: SpecModel | None) -> tuple[ResourceHandler, Any]:
        rtype = self.resource_type(resource_type)
        if spec is not None and not isinstance(spec, rtype.spec_model):
            raise ProviderError(
                f"the spec of a {resource_type} must be a {rtype.spec_model.__name__}, "
                f"not {type(spec).__name__}",
                permanent=True,
                code="bad_spec",
            )
        handler = self.handlers[resource_type](self.clients())
        return handler, spec

    def _call(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        with translated(action, self._secrets()):
            return fn(*args)

    @staticmethod
    def _rejection_reason(exc: ProviderError) -> str:
        """Words that quote nothing the endpoint sent: an error code only when it is
        one of AWS's known credential codes."""
        if exc.code in CREDENTIAL_CODES:
            return f"AWS rejected the credentials: {exc.code}"
        return "AWS rejected the credentials"


def _label(spec: SpecModel) -> str:
    return repr(getattr(spec, "name", type(spec).__name__))
