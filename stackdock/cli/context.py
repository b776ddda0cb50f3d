"""What every command shares: the global options, the API client, error handling."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import typer

from stackdock.cli import config as config_module
from stackdock.cli import errors
from stackdock.cli.client import ApiClient
from stackdock.cli.config import Config
from stackdock.cli.errors import CliError
from stackdock.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])

#: tests plug an ``httpx.MockTransport`` in here; None means real HTTP
TRANSPORT: httpx.BaseTransport | None = None


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class State:
    """Global options (``stackdock --url URL ...``) and the lazily made client."""

    url_option: str | None = None
    _client: ApiClient | None = field(default=None, repr=False)
    _providers: list[dict[str, Any]] | None = field(default=None, repr=False)

    def config(self) -> Config:
        return config_module.load(self.url_option)

    def client(self, out: Output | None = None) -> ApiClient:
        if self._client is None:
            cfg = self.config()
            if out is not None and cfg.url and config_module.is_plain_http_to_remote(cfg.url):
                out.warn(f"{cfg.url} is plain HTTP: the token travels unencrypted.")
            self._client = ApiClient(
                cfg,
                transport=TRANSPORT,
                timeout=_env_float("STACKDOCK_TIMEOUT", 30.0),
                retries=int(_env_float("STACKDOCK_RETRIES", 3)),
            )
        return self._client

    def providers(self) -> list[dict[str, Any]]:
        """``GET /providers`` (once per command)."""
        if self._providers is None:
            self._providers = list(self.client().paginate("/providers"))
        return self._providers

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state_of(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def handles_errors(fn: F) -> F:
    """Turn a CliError into its message on stderr (and JSON with ``--json``) and its
    exit code. Commands take ``as_json`` for ``--json``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            Output(json_mode=bool(kwargs.get("as_json"))).error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            Output().note("Interrupted.")
            raise typer.Exit(errors.INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def find_provider(providers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The provider called ``name``; unknown: exit 2 listing the valid ones."""
    for provider in providers:
        if provider.get("name") == name:
            return provider
    valid = ", ".join(sorted(str(p.get("name")) for p in providers)) or "(none)"
    raise errors.usage(
        f"Unknown provider {name!r}; valid providers: {valid}.",
        fields={"provider": [f"must be one of: {valid}"]},
    )


def find_type(provider: dict[str, Any], name: str) -> dict[str, Any]:
    """The resource type ``name`` of ``provider``; unknown: exit 2 listing the valid ones."""
    types = provider.get("resource_types") or []
    for rtype in types:
        if rtype.get("name") == name:
            return rtype
    valid = ", ".join(sorted(str(t.get("name")) for t in types)) or "(none)"
    raise errors.usage(
        f"Unknown resource type {name!r} for {provider.get('name')}; valid types: {valid}.",
        fields={"resource_type": [f"must be one of: {valid}"]},
    )


def type_for_row(providers: list[dict[str, Any]], row: dict[str, Any]) -> dict[str, Any] | None:
    """The resource type of a universal-table row (None when the server does not say)."""
    for provider in providers:
        if provider.get("name") == row.get("provider"):
            for rtype in provider.get("resource_types") or []:
                if rtype.get("name") == row.get("resource_type"):
                    return rtype
    return None


def fail(message: str, exit_code: int = errors.FAILED, **kwargs: Any) -> CliError:
    return CliError(message, exit_code, **kwargs)
