"""OpenAPI post-processing: the error shape and the headers every endpoint shares."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": 'Problems per input field, by dotted path ("spec.name").',
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
ERRORS = {
    "400": "Invalid input (the fields say which).",
    "401": "No token, or a bad, expired or revoked one (WWW-Authenticate: Bearer).",
    "403": "Your organization's object, but your role or grants do not allow this.",
    "404": "Unknown, or another organization's.",
    "409": "Conflict: stack locked, invalid transition, duplicate name, reused "
    "Idempotency-Key, or a resource StackDock did not provision.",
    "429": "Throttled: retry after Retry-After seconds.",
}
WRITE_ONLY_ERRORS = ("409",)
ORG_HEADER = {
    "in": "header",
    "name": "X-StackDock-Org",
    "required": False,
    "schema": {"type": "string"},
    "description": "Session (dashboard) requests only: the organization slug to act in; "
    "default: your first membership. With a token it must match the token's organization.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


def _error_response(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if code == "429":
        response["headers"] = RETRY_AFTER
    return response


def add_common_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: document the error responses and the
    organization header on every ``/api/v1/`` operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code in ERRORS:
                if code in WRITE_ONLY_ERRORS and method == "get":
                    continue
                responses.setdefault(code, _error_response(code))
            params = operation.setdefault("parameters", [])
            if not any(p.get("name") == ORG_HEADER["name"] for p in params):
                params.append(dict(ORG_HEADER))
    return result
