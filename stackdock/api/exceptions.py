"""The one exception handler: every error leaves the API in one shape.

``{"error": {"code": "...", "message": "...", "fields": {"spec.name": ["..."]}}}``

Domain errors (``ApplicationError`` subclasses) carry their own status and
code; DRF's and Django's own exceptions are mapped onto the same shape.
Nothing unexpected is shown to the client: it gets a generic 500 body and
the traceback goes to the log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from stackdock.exceptions import ApplicationError, ConfirmationRequired

log = logging.getLogger(__name__)


class PayloadTooLarge(drf.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def error_body(code: str, message: str, fields: Mapping[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> ``{"spec.name": ["..."]}`` (list items by index)."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", api_settings.NON_FIELD_ERRORS_KEY) else key
            path = ".".join(p for p in (prefix, str(name)) if p)
            for sub, messages in flatten_errors(value, path).items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            out.setdefault(prefix or "body", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    path = f"{prefix}.{index}" if prefix else str(index)
                    for sub, messages in flatten_errors(item, path).items():
                        out.setdefault(sub, []).extend(messages)
    else:
        out.setdefault(prefix or "body", []).append(str(detail))
    return out


def _validation_response(exc: drf.ValidationError) -> Response:
    fields = flatten_errors(exc.detail)
    first = next(iter(fields.items()), None)
    message = "Invalid input."
    if first is not None:
        path, messages = first
        message = f"Invalid input: {path}: {messages[0]}" if messages else message
    return Response(error_body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)


def _api_exception_response(exc: drf.APIException) -> Response:
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = str(auth_header)
    if isinstance(exc, drf.Throttled):
        wait = getattr(exc, "wait", None) or 1
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    detail = exc.detail
    message = str(detail) if not isinstance(detail, list | dict) else "Request failed."
    code = exc.default_code if isinstance(exc.default_code, str) else "error"
    return Response(error_body(code, message), status=exc.status_code, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: ApplicationError and DRF/Django errors -> the error shape."""
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.fields)
        if isinstance(exc, ConfirmationRequired):
            body["error"]["plan"] = exc.plan
        response = Response(body, status=exc.status_code)
    elif isinstance(exc, drf.ValidationError):
        response = _validation_response(exc)
    elif isinstance(exc, drf.APIException):
        response = _api_exception_response(exc)
    else:
        view = context.get("view")
        log.exception("unexpected error in %s", type(view).__name__ if view else "the API")
        response = Response(
            error_body("server_error", "Internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    set_rollback()
    return response
