"""Run the emulator: in a background thread for tests, or as a process."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .api import API_PREFIX
from .app import CloudflareApp
from .state import EmulatorState, Injection, RecordedRequest, Token


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive, and no access log line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _LoggingHandler(_QuietHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        WSGIRequestHandler.log_request(self, code, size)


class CloudflareEmulator:
    """A stateful local stand-in for the Cloudflare v4 REST API.

    >>> emulator = CloudflareEmulator(port=0).start()
    >>> emulator.add_token("T", "0" * 32)
    >>> client = Cloudflare(api_token="T", base_url=emulator.base_url)
    >>> emulator.stop()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False) -> None:
        self.host = host
        self.port = port
        self.state = EmulatorState()
        self.app = CloudflareApp(self.state)
        self._access_log = access_log
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------
    def start(self) -> CloudflareEmulator:
        """Listen and serve on a daemon thread; returns self once accepting."""
        if self._server is not None:
            return self
        self._server = self._make_server()
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"cloudflare-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread (the standalone process)."""
        self._server = self._make_server()
        self.port = self._server.server_port
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def _make_server(self) -> BaseWSGIServer:
        handler = _LoggingHandler if self._access_log else _QuietHandler
        return make_server(self.host, self.port, self.app, threaded=True, request_handler=handler)

    def __enter__(self) -> CloudflareEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- where it listens -----------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"{self.root_url}{API_PREFIX}"

    # --- configuration and inspection ------------------------------------------
    def add_token(
        self,
        token: str,
        account_id: str,
        permissions: Iterable[str] | None = None,
        *,
        status: str = "active",
        owned_by: str = "user",
    ) -> Token:
        """Accept ``token`` for ``account_id``; ``permissions`` None grants everything."""
        return self.state.add_token(
            token,
            account_id,
            permissions=list(permissions) if permissions is not None else None,
            status=status,
            owned_by=owned_by,
        )

    def set_workers_subdomain(self, account_id: str, subdomain: str | None) -> None:
        self.state.set_workers_subdomain(account_id, subdomain)

    def inject(
        self,
        path_regex: str,
        *,
        status: int = 429,
        times: int | None = 1,
        retry_after: float | None = None,
        method: str | None = None,
        code: int | None = None,
        message: str | None = None,
    ) -> Injection:
        """Answer the next ``times`` requests whose path (relative to /client/v4)
        matches ``path_regex`` (``re.search``) with ``status`` in Cloudflare's shape,
        plus ``Retry-After`` when given. ``times=None`` means until reset."""
        return self.state.inject(
            path_regex,
            status=status,
            times=times,
            retry_after=retry_after,
            method=method,
            code=code,
            message=message,
        )

    def reset(self) -> None:
        """Forget resources, faults and the request log; tokens and accounts stay."""
        self.state.reset()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def calls(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Logged requests with this method whose path matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]
