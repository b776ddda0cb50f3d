"""The WSGI application: routing, bearer-token auth, faults, the envelope.

Endpoints live under ``/client/v4`` as in the real API. A small control API
under ``/__emulator/`` (no auth; the server only listens on loopback) lets a
test in another process reset state, add tokens and inject faults.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import storage, workers, zones
from .api import API_PREFIX, ApiError, Call, Reply, envelope, forbidden
from .state import EmulatorState, RecordedRequest, Token

log = logging.getLogger(__name__)

_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]+$")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    handler: Callable[..., Reply]
    #: the permission scope (see state.PERMISSION_SCOPES); None = any valid token
    scope: str | None


def _verify_user_token(call: Call) -> Reply:
    return _verify(call.token)


def _verify_account_token(call: Call, account_id: str) -> Reply:
    return _verify(call.token)


def _verify(token: Token) -> Reply:
    return Reply(
        result={"id": token.id, "status": token.status},
        messages=[{"code": 10000, "message": "This API Token is valid and active", "type": None}],
    )


ROUTES: tuple[Route, ...] = (
    Route("/user/tokens/verify", ("GET",), _verify_user_token, None),
    Route("/accounts/<account_id>/tokens/verify", ("GET",), _verify_account_token, None),
    Route("/zones", ("GET", "POST"), zones.list_zones, "zone"),
    Route("/zones/<zone_id>", ("GET", "PATCH", "DELETE"), zones.read_zone, "zone"),
    Route("/zones/<zone_id>/dns_records", ("GET", "POST"), zones.list_records, "dns"),
    Route(
        "/zones/<zone_id>/dns_records/<record_id>",
        ("GET", "PUT", "PATCH", "DELETE"),
        zones.read_record,
        "dns",
    ),
    Route(
        "/accounts/<account_id>/workers/subdomain", ("GET",), workers.account_subdomain, "workers"
    ),
    Route("/accounts/<account_id>/workers/scripts", ("GET",), workers.list_scripts, "workers"),
    Route(
        "/accounts/<account_id>/workers/scripts/<name>",
        ("GET", "PUT", "DELETE"),
        workers.script_content,
        "workers",
    ),
    Route(
        "/accounts/<account_id>/workers/scripts/<name>/content/v2",
        ("GET",),
        workers.script_content,
        "workers",
    ),
    Route(
        "/accounts/<account_id>/workers/scripts/<name>/subdomain",
        ("GET", "POST"),
        workers.get_script_subdomain,
        "workers",
    ),
    Route("/accounts/<account_id>/r2/buckets", ("GET", "POST"), storage.list_buckets, "r2"),
    Route(
        "/accounts/<account_id>/r2/buckets/<name>",
        ("GET", "PATCH", "DELETE"),
        storage.read_bucket,
        "r2",
    ),
    Route("/accounts/<account_id>/d1/database", ("GET", "POST"), storage.list_databases, "d1"),
    Route(
        "/accounts/<account_id>/d1/database/<database_id>",
        ("GET", "PATCH", "DELETE"),
        storage.read_database,
        "d1",
    ),
)

#: (route path, method) -> handler, for the routes that share a path
_HANDLERS: dict[tuple[str, str], Callable[..., Reply]] = {
    ("/zones", "POST"): zones.create_zone,
    ("/zones/<zone_id>", "PATCH"): zones.edit_zone,
    ("/zones/<zone_id>", "DELETE"): zones.delete_zone,
    ("/zones/<zone_id>/dns_records", "POST"): zones.create_record,
    ("/zones/<zone_id>/dns_records/<record_id>", "PUT"): zones.update_record,
    ("/zones/<zone_id>/dns_records/<record_id>", "PATCH"): zones.edit_record,
    ("/zones/<zone_id>/dns_records/<record_id>", "DELETE"): zones.delete_record,
    ("/accounts/<account_id>/workers/scripts/<name>", "PUT"): workers.upload_script,
    ("/accounts/<account_id>/workers/scripts/<name>", "DELETE"): workers.delete_script,
    (
        "/accounts/<account_id>/workers/scripts/<name>/subdomain",
        "POST",
    ): workers.set_script_subdomain,
    ("/accounts/<account_id>/r2/buckets", "POST"): storage.create_bucket,
    ("/accounts/<account_id>/r2/buckets/<name>", "PATCH"): storage.edit_bucket,
    ("/accounts/<account_id>/r2/buckets/<name>", "DELETE"): storage.delete_bucket,
    ("/accounts/<account_id>/d1/database", "POST"): storage.create_database,
    ("/accounts/<account_id>/d1/database/<database_id>", "PATCH"): storage.edit_database,
    ("/accounts/<account_id>/d1/database/<database_id>", "DELETE"): storage.delete_database,
}


def _json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def _error_response(error: ApiError) -> Response:
    return _json_response(error.body(), error.status, error.headers)


class CloudflareApp:
    """A WSGI app answering like ``https://api.cloudflare.com/client/v4``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._routes = {route.path: route for route in ROUTES}
        self._map = Map(
            [Rule(r.path, endpoint=r.path, methods=list(r.methods)) for r in ROUTES],
            strict_slashes=False,
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = 32 * 1024 * 1024
        if request.path.startswith("/__emulator/"):
            response = self._control(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    # --- the API --------------------------------------------------------------
    def _api(self, request: Request) -> Response:
        path = request.path
        rel = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else None
        try:
            if rel is None:
                raise ApiError(404, 7000, "No route for that URI")
            response = self._dispatch(request, rel)
        except ApiError as error:
            response = _error_response(error)
        except Exception:  # a bug in the emulator: say so loudly, answer like Cloudflare
            log.exception("Cloudflare emulator failed on %s %s", request.method, path)
            response = _error_response(ApiError(500, 10013, "An unknown error has occurred"))
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=rel if rel is not None else path,
                    query=request.query_string.decode("latin-1"),
                    status=response.status_code,
                )
            )
        return response

    def _dispatch(self, request: Request, rel: str) -> Response:
        injection = self.state.take_injection(request.method, rel)
        if injection is not None:
            raise _injected_error(
                injection.status, injection.code, injection.message, injection.retry_after
            )
        adapter = self._map.bind("api.cloudflare.com")
        try:
            endpoint, args = adapter.match(rel, method=request.method)
        except MethodNotAllowed:
            raise ApiError(405, 10405, "Method not allowed for this route") from None
        except NotFound:
            raise ApiError(404, 7000, "No route for that URI") from None
        route = self._routes[endpoint]
        handler = _HANDLERS.get((route.path, request.method), route.handler)
        token = self._authenticate(request, route)
        if not token.allows(route.scope, write=request.method in _WRITE_METHODS):
            raise forbidden()
        with self.state.lock:
            reply = handler(Call(request=request, state=self.state, token=token, path=rel), **args)
        if reply.raw is not None:
            return Response(reply.raw, status=reply.status, content_type=reply.content_type)
        body = envelope(reply.result, messages=reply.messages, result_info=reply.result_info)
        return _json_response(body, reply.status)

    def _authenticate(self, request: Request, route: Route) -> Token:
        header = request.headers.get("Authorization")
        scheme, _, value = (header or "").partition(" ")
        if scheme != "Bearer" or not _TOKEN_FORMAT.match(value.strip()):
            raise ApiError(
                400,
                6003,
                "Invalid request headers",
                error_chain=[{"code": 6111, "message": "Invalid format for Authorization header"}],
            )
        with self.state.lock:
            token = self.state.tokens.get(value.strip())
        is_verify = route.path.endswith("/tokens/verify")
        if is_verify:
            wanted = "user" if route.path.startswith("/user/") else "account"
            if token is None or token.owned_by != wanted:
                raise ApiError(401, 1000, "Invalid API Token")
            account_match = re.match(r"^/accounts/([^/]+)/", request.path[len(API_PREFIX) :])
            if account_match and account_match.group(1) != token.account_id:
                raise ApiError(401, 1000, "Invalid API Token")
            return token
        if token is None or token.status != "active":
            raise ApiError(401, 10000, "Authentication error")
        return token

    # --- the control API --------------------------------------------------------
    def _control(self, request: Request) -> Response:
        action = request.path[len("/__emulator/") :].strip("/")
        body = request.get_json(silent=True) or {}
        state = self.state
        if action == "reset" and request.method == "POST":
            state.reset()
            return _json_response({"ok": True}, 200)
        if action == "tokens" and request.method == "POST":
            state.add_token(
                body["token"],
                body["account_id"],
                permissions=body.get("permissions"),
                status=body.get("status", "active"),
                owned_by=body.get("owned_by", "user"),
            )
            return _json_response({"ok": True}, 200)
        if action == "inject" and request.method == "POST":
            state.inject(
                body["path"],
                status=int(body.get("status", 429)),
                times=body.get("times", 1),
                retry_after=body.get("retry_after"),
                method=body.get("method"),
                code=body.get("code"),
                message=body.get("message"),
            )
            return _json_response({"ok": True}, 200)
        if action == "requests" and request.method == "GET":
            with state.lock:
                logged = [r.__dict__ for r in state.requests]
            return _json_response(logged, 200)
        return _json_response({"ok": False, "error": f"unknown control action {action!r}"}, 404)


def _injected_error(
    status: int, code: int | None, message: str | None, retry_after: float | None
) -> ApiError:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = (
            str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        )
    if status == 429:
        default = (971, "Please wait and consider throttling your request speed")
    elif status >= 500:
        default = (10013, "An unknown error has occurred")
    else:
        default = (10000, "Injected error")
    return ApiError(status, code or default[0], message or default[1], headers=headers)
