"""The REST API over HTTP (httpx): auth, retries, errors mapped to exit codes, pages.

The CLI imports nothing from Django: everything it knows comes from
``/api/v1/``. The token only ever travels in the ``Authorization`` header; it
is not kept in any exception, repr or message.

Retries (tenacity): a request that never reached the server (connection
refused, connect timeout) is retried; a read timeout, a dropped connection and
502/503/504 are retried only for requests that are safe to repeat (GET, or a
POST/PATCH/DELETE carrying an ``Idempotency-Key``); a 429 is retried after its
``Retry-After``. Everything else is reported at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import tenacity

from stackdock.cli import errors
from stackdock.cli.config import Config
from stackdock.cli.errors import CliError

API_PREFIX = "/api/v1"
USER_AGENT = "stackdock-cli/0.1"
MAX_PAGE = 200
#: longest honoured Retry-After, seconds
MAX_RETRY_AFTER = 30.0
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class _RetryableStatus(Exception):
    """Internal: a response worth another try (tenacity retries on it)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def new_idempotency_key() -> str:
    return f"cli-{uuid.uuid4()}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    return None


class ApiClient:
    """One server, one token. ``transport`` lets tests plug in ``httpx.MockTransport``."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
        require_token: bool = True,
    ) -> None:
        if not config.url:
            raise errors.usage(
                "No StackDock server configured: run `stackdock login --url URL` "
                "or set STACKDOCK_URL.",
                fields={"url": ["not configured"]},
            )
        if require_token and not config.token:
            raise CliError(
                "Not logged in: run `stackdock login` or set STACKDOCK_TOKEN.",
                errors.AUTH,
                code="not_authenticated",
            )
        self.url = config.url
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.Client(
            base_url=config.url + API_PREFIX,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<ApiClient {self.url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send one request; the decoded JSON body (None for 204), or a CliError."""
        response = self._send(method, path, params=params, json=json, key=idempotency_key)
        return self._decode(response)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_clean(params))

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, json=body, idempotency_key=idempotency_key)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self.request("PATCH", path, json=body, idempotency_key=idempotency_key)

    def delete(self, path: str, *, idempotency_key: str | None = None, **params: Any) -> Any:
        return self.request("DELETE", path, params=_clean(params), idempotency_key=idempotency_key)

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint (``limit``/``offset`` pages), up to ``limit`` items."""
        offset, seen = 0, 0
        while limit is None or seen < limit:
            size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - seen)
            page = self.get(path, **{**(params or {}), "limit": size, "offset": offset})
            items = page.get("results", []) if isinstance(page, dict) else page
            if not items:
                return
            for item in items:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            offset += len(items)
            count = page.get("count") if isinstance(page, dict) else None
            if not isinstance(page, dict) or (isinstance(count, int) and offset >= count):
                return

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[httpx.Response]:
        """A streamed GET (exports): the response, its body not read yet."""
        request = self._http.build_request("GET", path, params=_clean(params))
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        try:
            if response.status_code >= 400:
                response.read()
                raise self._http_error(response)
            yield response
        finally:
            response.close()

    # --- internals ----------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        key: str | None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        repeatable = method.upper() in _SAFE_METHODS or bool(key)

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                return True  # the request never reached the server
            if isinstance(exc, _RetryableStatus):
                return exc.response.status_code == 429 or repeatable
            return repeatable and isinstance(
                exc, httpx.ReadTimeout | httpx.RemoteProtocolError | httpx.ReadError
            )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _RetryableStatus):
                after = _retry_after(exc.response)
                if after is not None:
                    return after
            return min(self.backoff * (2 ** (state.attempt_number - 1)), 4.0)

        def attempt() -> httpx.Response:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
            if response.status_code in _RETRY_STATUSES:
                raise _RetryableStatus(response)
            return response

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=tenacity.retry_if_exception(should_retry),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _RetryableStatus as exc:
            return exc.response
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    def _transport_error(self, exc: httpx.HTTPError) -> CliError:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            reason = "connection failed"
        else:
            reason = type(exc).__name__
        return CliError(
            f"Cannot reach the StackDock server at {self.url}: {reason}.",
            errors.UNREACHABLE,
            code="unreachable",
            hint="Check the URL (`stackdock login --url`, STACKDOCK_URL) and that the server runs.",
        )

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise self._http_error(response)
        if 300 <= response.status_code < 400:
            where = response.headers.get("Location", "elsewhere")
            raise CliError(
                f"The server redirected to {where}; log in with that URL instead.",
                errors.USAGE,
                code="redirect",
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"The server at {self.url} did not answer with JSON: is it a StackDock server?",
                errors.UNREACHABLE,
                code="not_json",
            ) from None

    def _http_error(self, response: httpx.Response) -> CliError:
        status = response.status_code
        code, message, fields, plan = f"http_{status}", "", {}, None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            code = str(err.get("code") or code)
            message = str(err.get("message") or "")
            plan = err.get("plan") if isinstance(err.get("plan"), dict) else None
            raw_fields = err.get("fields") or {}
            if isinstance(raw_fields, dict):
                fields = {
                    str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                    for k, v in raw_fields.items()
                }
        if not message:
            message = _default_message(status, self.url)
        hint = ""
        if status == 401:
            hint = "Run `stackdock login` (or set STACKDOCK_TOKEN) with a valid token."
        elif status == 429:
            after = response.headers.get("Retry-After")
            hint = f"Throttled by the server; try again in {after} s." if after else ""
        return CliError(
            message,
            errors.exit_code_for_status(status),
            fields=fields,
            code=code,
            hint=hint,
            plan=plan,
        )


def _default_message(status: int, url: str) -> str:
    return {
        401: "Authentication failed.",
        403: "Permission denied.",
        404: "Not found.",
        429: "Too many requests.",
        502: f"The server at {url} is unavailable (502).",
        503: f"The server at {url} is unavailable (503).",
        504: f"The server at {url} timed out (504).",
    }.get(status, f"The server answered {status}.")


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if v is not None and v != ""}
