"""Where a dock's credentials go: the outbound policy for its endpoint, the live check of
credentials for one endpoint, and the credentials a move to a new endpoint needs.

Invariant (SECURITY.md, "A stored secret goes only where it was entered for"): stored
credentials are never sent to a destination they were not entered for. The endpoint is
the one dock field outside the credentials that decides it (the AWS region and the
Cloudflare account id live inside them; provider and organization never change), so a
new endpoint takes the credentials again, checked live there. ``docks.services`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docks.models import Dock
from stackdock import outbound
from stackdock.exceptions import ValidationError
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require


def endpoint_allowed(endpoint_url: str | None) -> str:
    """The outbound policy (``stackdock.outbound``) for a dock's endpoint override, now,
    as a 400 naming ``endpoint_url``. Blank - the provider's own endpoint - passes."""
    if not endpoint_url:
        return ""
    try:
        outbound.check(endpoint_url)
    except outbound.Refused as exc:
        raise ValidationError(
            f"endpoint_url: {exc.reason}.", fields={"endpoint_url": [exc.reason]}
        ) from None
    return endpoint_url


def credentials_check(
    *, provider: str, credentials: Mapping[str, Any] | None, endpoint_url: str = ""
) -> dict[str, Any]:
    """Validate credentials against the provider's own model, then with a live call.

    Returns the cleaned credentials; raises ValidationError naming the field,
    or with the provider's reason when it refuses them. An endpoint override is
    checked against the outbound policy first, and a failure to reach it is
    told in classified words (refused, timeout, TLS error, not an API...),
    never with anything the endpoint answered.
    """
    from pydantic import ValidationError as PydanticError

    from docks.adapters.base import ProviderError
    from provisioning.engine.registry import pydantic_errors
    from provisioning.registry import get_registry

    endpoint_allowed(endpoint_url)
    registry = get_registry()
    try:
        cls = registry.adapter_class(provider)
    except Exception:
        valid = ", ".join(registry.providers())
        raise ValidationError(
            f"Unknown provider {provider!r}; valid: {valid}.",
            fields={"provider": [f"unknown; valid: {valid}"]},
        ) from None
    try:
        model = cls.credentials_model.model_validate(dict(credentials or {}))
    except PydanticError as exc:
        fields: dict[str, list[str]] = {}
        for path, message in pydantic_errors(exc, path="credentials"):
            fields.setdefault(path, []).append(message)
        raise ValidationError("Invalid credentials.", fields=fields) from None
    clean = model.model_dump(mode="json", exclude_none=True)
    for name in cls.credentials_model.secret_fields():  # SecretStr dumps as ****
        value = getattr(model, name, None)
        if value is not None and hasattr(value, "get_secret_value"):
            clean[name] = value.get_secret_value()
    if cls.credentialless:
        return {}
    try:
        check = cls(clean, endpoint_url or None).validate_credentials()
    except ProviderError as exc:
        if exc.code == "endpoint_refused":  # the policy, in the adapter: DNS changed since
            raise ValidationError(exc.message, fields={"endpoint_url": [exc.message]}) from None
        reason = f"the endpoint {outbound.reason_for(exc.kind)}"
        raise ValidationError(
            f"Could not reach {cls.label} to check the credentials: {reason}.",
            fields={"credentials": [reason]},
        ) from None
    if not check.ok:
        raise ValidationError(check.reason, fields={"credentials": [check.reason]})
    return clean


def checked_for_new_endpoint(
    *,
    actor: Actor,
    dock: Dock,
    endpoint_url: str,
    credentials: Mapping[str, Any] | None,
    provisioning_credentials: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (API, provisioning) credentials that may move ``dock`` to ``endpoint_url``,
    cleaned and checked live there; ``{}`` for no separate provisioning credentials.

    The caller needs ``credentials: full``; ``credentials`` are required, and
    ``provisioning_credentials`` too when the dock keeps separate ones (``{}`` drops
    them). Nothing stored is decrypted, let alone sent anywhere.
    """
    require(actor, dock.org, Area.CREDENTIALS, Level.FULL, obj=dock)
    endpoint_allowed(endpoint_url)
    missing: dict[str, list[str]] = {}
    never = "stored credentials are never sent to a new endpoint"
    if credentials is None:
        missing["credentials"] = [f"required with a new endpoint_url: {never}"]
    if dock.provisioning_credentials and provisioning_credentials is None:
        missing["provisioning_credentials"] = [
            f"required with a new endpoint_url: this dock keeps separate provisioning "
            f"credentials and {never} (an empty object drops them)"
        ]
    if missing:
        raise ValidationError("A new endpoint needs the credentials entered again.", fields=missing)
    clean = credentials_check(
        provider=dock.provider, credentials=credentials, endpoint_url=endpoint_url
    )
    prov = (
        credentials_check(
            provider=dock.provider, credentials=provisioning_credentials, endpoint_url=endpoint_url
        )
        if provisioning_credentials
        else {}
    )
    return clean, prov
