"""Exit codes and the one error type every command raises.

=====  ==========================================================
code   meaning
=====  ==========================================================
0      success
1      the operation failed or was cancelled (or the server refused: 409, 500)
2      bad usage or validation (the message names the field)
3      authentication or permission (401, 403)
4      not found (404)
5      server unreachable or timed out (also 502/503/504 and persistent 429)
130    interrupted (Ctrl-C) while watching: the operation goes on
=====  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OK = 0
FAILED = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
UNREACHABLE = 5
INTERRUPTED = 130

#: HTTP status -> exit code (anything else >= 400: FAILED)
HTTP_EXIT_CODES = {
    400: USAGE,
    401: AUTH,
    403: AUTH,
    404: NOT_FOUND,
    405: USAGE,
    413: USAGE,
    415: USAGE,
    429: UNREACHABLE,
    502: UNREACHABLE,
    503: UNREACHABLE,
    504: UNREACHABLE,
}


class CliError(Exception):
    """A failure to report to the user: a message, the exit code, and per-field problems.

    ``fields`` maps a dotted field path (``spec.name``) to its messages, as in the
    API's error shape. Nothing here may hold a credential or the token.
    """

    def __init__(
        self,
        message: str,
        exit_code: int = FAILED,
        *,
        fields: Mapping[str, list[str]] | None = None,
        code: str = "error",
        hint: str = "",
        plan: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.fields = {str(k): [str(m) for m in v] for k, v in (fields or {}).items()}
        self.code = code
        self.hint = hint
        #: what the refused change would do (the API's ``confirmation_required``)
        self.plan = dict(plan) if plan else None

    def __repr__(self) -> str:
        return f"CliError({self.message!r}, exit_code={self.exit_code})"

    def as_json(self) -> dict:
        """The error in the API's shape, plus the exit code (for ``--json``)."""
        body: dict = {"code": self.code, "message": self.message, "fields": self.fields}
        if self.hint:
            body["hint"] = self.hint
        if self.plan is not None:
            body["plan"] = self.plan
        return {"error": body, "exit_code": self.exit_code}


def usage(
    message: str, *, fields: Mapping[str, list[str]] | None = None, hint: str = ""
) -> CliError:
    """A bad-usage / validation error (exit 2)."""
    return CliError(message, USAGE, fields=fields, code="invalid", hint=hint)


def exit_code_for_status(status: int) -> int:
    return HTTP_EXIT_CODES.get(status, FAILED)
