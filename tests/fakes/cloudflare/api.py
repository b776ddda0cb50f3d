"""What every emulated endpoint shares: errors, the envelope, paging, the caller."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request

from .state import Account, EmulatorState, Token

API_PREFIX = "/client/v4"


class ApiError(Exception):
    """An error answered in Cloudflare's shape: HTTP status plus code and message."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        error_chain: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_chain = error_chain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.error_chain:
            error["error_chain"] = self.error_chain
        return envelope(None, success=False, errors=[error])


def envelope(
    result: Any,
    *,
    success: bool = True,
    errors: list[dict[str, Any]] | None = None,
    messages: list[dict[str, Any]] | None = None,
    result_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": success,
        "errors": errors or [],
        "messages": messages or [],
        "result": result,
    }
    if result_info is not None:
        body["result_info"] = result_info
    return body


@dataclass
class Reply:
    """A handler's answer: a JSON result (enveloped) or a raw body."""

    result: Any = None
    status: int = 200
    result_info: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    raw: bytes | None = None
    content_type: str = "application/json"


def not_found(code: int, message: str) -> ApiError:
    return ApiError(404, code, message)


def bad_request(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)


def forbidden() -> ApiError:
    return ApiError(403, 10000, "Authentication error")


@dataclass
class Call:
    """One authenticated request, as a handler sees it."""

    request: Request
    state: EmulatorState
    token: Token
    path: str  # relative to /client/v4

    @property
    def account(self) -> Account:
        return self.state.accounts[self.token.account_id]

    def json(self) -> dict[str, Any]:
        raw = self.request.get_data(cache=True)
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_request(6007, "Malformed JSON in request body") from None
        if not isinstance(body, dict):
            raise bad_request(6007, "Malformed JSON in request body")
        return body

    def arg(self, name: str) -> str | None:
        return self.request.args.get(name)

    def int_arg(self, name: str, default: int) -> int:
        value = self.request.args.get(name)
        if value in (None, ""):
            return default
        try:
            return int(float(value))
        except ValueError:
            raise bad_request(1001, f"{name} must be a number") from None

    def bool_arg(self, name: str) -> bool | None:
        value = self.request.args.get(name)
        if value is None:
            return None
        return value.lower() == "true"

    def check_account(self, account_id: str) -> None:
        """403 unless the token belongs to this account (as Cloudflare answers)."""
        if account_id != self.token.account_id:
            raise forbidden()


def paginate(
    call: Call,
    items: list[Any],
    *,
    default_per_page: int,
    min_per_page: int,
    max_per_page: int,
) -> Reply:
    """Cloudflare's page-number paging: an empty list past the last page."""
    page = call.int_arg("page", 1)
    per_page = call.int_arg("per_page", default_per_page)
    if page < 1:
        raise bad_request(1001, "page must be at least 1")
    if not min_per_page <= per_page <= max_per_page:
        raise bad_request(1001, f"per_page must be between {min_per_page} and {max_per_page}")
    total = len(items)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    total_pages = (total + per_page - 1) // per_page
    return Reply(
        result=chunk,
        result_info={
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": total,
            "total_pages": total_pages,
        },
    )
