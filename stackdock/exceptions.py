"""Domain errors. The API's exception handler maps each to one HTTP status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApplicationError(Exception):
    """Base for every error a service raises on purpose."""

    status_code = 400
    code = "error"

    def __init__(self, message: str, *, fields: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = {k: list(v) for k, v in (fields or {}).items()}


class ValidationError(ApplicationError):
    status_code = 400
    code = "invalid"


class ConfirmationRequired(ValidationError):
    """A destructive change asked for without saying so: ``plan`` shows what it would do,
    and the same request with ``confirm`` set goes ahead."""

    code = "confirmation_required"

    def __init__(
        self,
        message: str,
        *,
        plan: Mapping[str, object],
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message, fields=fields)
        self.plan = dict(plan)


class NotFound(ApplicationError):
    """Unknown, or another organization's (never reveal which)."""

    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message, **kwargs)


class PermissionDenied(ApplicationError):
    """Your organization's object, but your role or grant does not allow this."""

    status_code = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class NotImportable(Conflict):
    """A resource at the provider that StackDock cannot describe with its type's spec
    (so it cannot be imported): the message says what the spec cannot hold."""

    code = "not_importable"


class ProviderUnavailable(ApplicationError):
    """A provider call made while answering the request failed (the message is the
    adapter's, which never holds a credential)."""

    status_code = 502
    code = "provider_error"
