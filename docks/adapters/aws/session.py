"""boto3 clients for one dock: its own session, timeouts and small SDK retries."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.parsers import ResponseParserError, ResponseParserFactory

from docks.adapters.endpoint import guard_request

from .credentials import AwsCredentials
from .regions import known_regions, partition_for

#: Seconds to open a connection / wait for a response.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30
#: The engine retries with backoff; the SDK only retries once on its own.
SDK_MAX_ATTEMPTS = 2


@lru_cache(maxsize=1)
def _shared_loader() -> Any:
    """botocore's loader of service models, shared by every dock's session.

    It only reads botocore's bundled JSON (no credentials) and caches it;
    without sharing, each new session re-parses the EC2 model (~0.3 s).
    """
    return botocore.session.Session().get_component("data_loader")


class _ShapeCheckedParser:
    """One of botocore's response parsers; an answer that parses as XML or JSON but has
    not the shape the API defines (another server's page: HTML reads as XML) raises
    ``ResponseParserError`` instead of a KeyError from deep inside botocore."""

    def __init__(self, parser: Any) -> None:
        self._parser = parser

    def parse(self, response: Any, shape: Any) -> Any:
        try:
            return self._parser.parse(response, shape)
        except (KeyError, IndexError, AttributeError, TypeError) as exc:
            raise ResponseParserError(
                f"the answer has not the shape of the API's ({type(exc).__name__})"
            ) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class _ShapeCheckedParsers(ResponseParserFactory):
    def create_parser(self, protocol_name: str) -> Any:
        return _ShapeCheckedParser(super().create_parser(protocol_name))


def _isolated_botocore_session() -> botocore.session.Session:
    """A botocore session that ignores ``AWS_PROFILE``, shares the model loader and
    checks the shape of every answer (``_ShapeCheckedParser``)."""
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session.register_component("data_loader", _shared_loader())
    session.register_component("response_parser_factory", _ShapeCheckedParsers())
    return session


@dataclass(frozen=True)
class WaitPolicy:
    """How long waiters poll: ``delay`` seconds between checks, ``max_attempts`` checks."""

    delay: float = 15.0
    max_attempts: int = 40

    def config(self) -> dict[str, Any]:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


class AwsClients:
    """Creates and caches boto3 clients for one set of credentials.

    Uses a private ``boto3.session.Session`` (never the default session) built
    on a botocore session that ignores ``AWS_PROFILE``, and a Config that
    ignores endpoint URLs from the environment, so nothing but the dock's own
    credentials and endpoint is ever used. Sessions are not thread-safe but
    clients are, so clients are created under a lock and then shared.
    """

    def __init__(
        self,
        credentials: AwsCredentials,
        endpoint_url: str | None = None,
        wait: WaitPolicy | None = None,
    ) -> None:
        self.region = credentials.region
        #: Regions sync is limited to (None: every enabled region).
        self.limited_regions = credentials.limited_regions()
        self.endpoint_url = endpoint_url
        self.wait = wait or WaitPolicy()
        token = credentials.session_token
        self._session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key.get_secret_value(),
            aws_session_token=token.get_secret_value() if token else None,
            region_name=credentials.region,
            botocore_session=_isolated_botocore_session(),
        )
        self._config = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"mode": "standard", "max_attempts": SDK_MAX_ATTEMPTS},
            ignore_configured_endpoint_urls=True,
            user_agent_extra="stackdock",
            # Emulators and MinIO answer on one host: no virtual-hosted buckets.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._enabled_regions: list[str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AwsClients region={self.region!r} endpoint={self.endpoint_url!r}>"

    def client(self, service: str, region: str | None = None) -> Any:
        """A (cached) client for ``service`` in ``region`` (default: the dock's region)."""
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                client = self._session.client(
                    service,
                    region_name=key[1],
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
                if self.endpoint_url:  # the outbound policy again before every request
                    client.meta.events.register("before-send", _guard_request)
                self._clients[key] = client
            return self._clients[key]

    def sync_regions(self) -> list[str]:
        """Regions sync scans: the limited list, or every region enabled in the account."""
        if self.limited_regions is not None:
            return self.limited_regions
        if self._enabled_regions is None:  # two threads may both look: harmless
            regions = self.client("ec2").describe_regions()["Regions"]
            enabled = sorted(
                r["RegionName"]
                for r in regions
                if r.get("OptInStatus") != "not-opted-in" and self._same_partition(r["RegionName"])
            )
            # The default region first: its failures surface before the others'.
            self._enabled_regions = [self.region, *(r for r in enabled if r != self.region)]
        return self._enabled_regions

    def _same_partition(self, region: str) -> bool:
        """False for a region botocore places in another partition than the dock's."""
        if region not in known_regions():
            return True  # newer than this botocore: keep it
        return partition_for(region).id == partition_for(self.region).id

    def wait_for(self, client: Any, waiter: str, **params: Any) -> None:
        """Block on a botocore waiter with this dock's wait policy."""
        client.get_waiter(waiter).wait(WaiterConfig=self.wait.config(), **params)


def _guard_request(request: Any, **_: Any) -> None:
    """botocore ``before-send`` handler: raising here stops the request unsent, and
    botocore hands the exception back to the caller unchanged (not retried)."""
    guard_request(request.url)


class SharedClients:
    """``AwsClients`` kept across operations, per credentials, endpoint and wait policy.

    A worker runs one operation after another for the same docks; building a
    boto3 session and its clients costs about 10 ms of CPU each time (more
    than the rest of a provision's own work). Entries are keyed by a SHA-256
    of the credentials (a rotation gives a new key, so the next operation
    uses the new credentials), at most ``max_entries`` are kept, and every
    lookup first drops the entries built more than ``max_age`` seconds ago,
    so decrypted credentials do not outlive their use in the worker's memory
    for long (a worker that makes no lookup keeps them until its next one).
    Each operation still decrypts
    (and audits) the dock's credentials; only the clients built from them are
    reused.
    """

    def __init__(
        self,
        *,
        max_entries: int = 32,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, AwsClients]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(credentials: AwsCredentials, endpoint_url: str | None, wait: WaitPolicy) -> str:
        material = "\x00".join(
            [
                credentials.model_dump_json(),  # secrets show masked: added below
                credentials.secret_access_key.get_secret_value(),
                credentials.session_token.get_secret_value() if credentials.session_token else "",
                endpoint_url or "",
                repr(wait),
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def get(
        self, credentials: AwsCredentials, endpoint_url: str | None, wait: WaitPolicy
    ) -> AwsClients:
        key = self.key(credentials, endpoint_url, wait)
        now = self.clock()
        with self._lock:
            expired = [k for k, (built, _) in self._entries.items() if now - built >= self.max_age]
            for old in expired:
                del self._entries[old]
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[1]
            clients = AwsClients(credentials, endpoint_url, wait)
            self._entries[key] = (now, clients)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return clients

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The worker process's clients (see ``SharedClients``).
shared_clients = SharedClients()
