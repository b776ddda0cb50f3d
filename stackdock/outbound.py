"""Where StackDock may open a connection: the one outbound-request policy.

Every URL a user supplies and StackDock then connects to (a dock's endpoint
override today; outbound webhooks later) goes through ``check(url)`` right
before the connection - in the web process when a dock is created or its
endpoint changes, and in the worker each time an adapter builds its SDK
clients and before each request they send. The invariant it enforces:

1. **Well formed.** ``http`` or ``https``, a host, no ``user:password@``, a
   port from 1 to 65535 (``parse_url``; the one validator of ``endpoint_url``
   for the model, the API, the dashboard, admin and the CLI's server side).
2. **Overrides are on.** ``STACKDOCK_ENDPOINT_ALLOWLIST`` is not empty. It is
   empty in production unless the operator lists hosts; dev and test list the
   loopback host (moto, the Cloudflare emulator).
3. **The host is allow-listed, by what the URL says.** A host name must be
   listed exactly, match a ``*.suffix`` entry, or the list holds ``*`` (any
   public host); an IP literal must be inside a listed address or network, or
   be public with ``*``. A name that matches nothing is refused before any DNS
   query, so the check is no oracle of internal names.
4. **Every address it resolves to is allowed** (decided after resolution, on
   each address the SDK could pick, never by string match):
   - link-local and cloud metadata (169.254.0.0/16, fe80::/10, fd00:ec2::254,
     100.100.100.200, ...), "this network" (0.0.0.0/8), multicast, broadcast
     and reserved ranges: **never**, whatever the list says;
   - loopback and private (RFC 1918, CGNAT, unique local, documentation...):
     only inside a listed network, or for a host name listed exactly;
   - public: yes.
5. **No bearer token in clear on the internet.** Plain ``http`` only when
   every address is loopback or private.

``Refused`` carries a short reason in words (never what a server answered),
and ``reason_for(kind)`` words the classified failures of a connection that
was allowed (refused, timeout, TLS error, not an API...).

DNS answers come from the module-level ``resolver`` (``system_resolve``);
tests replace it to control them. This module imports nothing from Django at
import time: adapters use it, and they never touch Django.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; raises ``OSError`` when the name does not resolve
Resolver = Callable[[str, int], list[str]]

#: the longest URL accepted (the Dock column's length)
MAX_URL_LENGTH = 500

#: never connected to, whatever the allow-list says
FORBIDDEN_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
        "169.254.0.0/16",  # link-local: AWS, GCP, Azure, OpenStack metadata at .169.254
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata (classic)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
        "::/128",  # unspecified
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "fd20:ce::254/128",  # Google Cloud metadata over IPv6
        "ff00::/8",  # multicast
    )
)
#: IPv6 prefixes that carry an IPv4 address the packets end up at
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

FORBIDDEN, PRIVATE, PUBLIC = "forbidden", "private", "public"


class Refused(Exception):
    """StackDock may not connect there. ``reason`` is short, in words, and safe to show;
    ``code`` is one of ``malformed``, ``overrides_off``, ``not_allowed``,
    ``unresolvable``, ``forbidden_address``, ``private_address``, ``insecure``."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __repr__(self) -> str:
        return f"Refused({self.reason!r}, code={self.code!r})"


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (what the SDKs would use)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


#: the resolver ``check`` uses (a seam: tests replace it to control DNS answers)
resolver: Resolver = system_resolve


# --- addresses ---------------------------------------------------------------------------
def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to (mapped, NAT64, 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_class(address: str | IPAddress) -> str:
    """``forbidden``, ``private`` (loopback included) or ``public``."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return FORBIDDEN  # a zone index only makes sense on a link
    inner = _embedded_ipv4(ip)
    if inner is not None:
        return address_class(inner)
    if any(ip in net for net in FORBIDDEN_NETWORKS if net.version == ip.version):
        return FORBIDDEN
    if ip.is_multicast or ip.is_unspecified or ip.is_link_local:
        return FORBIDDEN
    if ip.is_loopback:
        return PRIVATE
    return PUBLIC if ip.is_global else PRIVATE


# --- the allow-list ----------------------------------------------------------------------
def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class AllowList:
    """``STACKDOCK_ENDPOINT_ALLOWLIST``: host names (``minio.internal``), suffixes
    (``*.example.com``), ``*`` (any public host), addresses and networks
    (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_public: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Raises ``ValueError`` naming an entry it cannot read."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        any_public = False
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                any_public = True
            elif entry.startswith("*."):
                suffixes.append("." + _hostname(entry[2:], raw))
            elif _ip(entry.strip("[]")) is not None or "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    raise ValueError(f"not an address or network: {raw!r}") from None
            else:
                names.add(_hostname(entry, raw))
        return cls(frozenset(names), tuple(suffixes), any_public, tuple(networks))

    @property
    def empty(self) -> bool:
        return not (self.names or self.suffixes or self.any_public or self.networks)

    def lists_name(self, host: str) -> bool:
        return host in self.names

    def in_networks(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)

    def admits_host(self, host: str) -> bool:
        """Step 3: may a URL name this host at all (before any DNS query)?"""
        ip = _ip(host)
        if ip is not None:
            return self.in_networks(ip) or (self.any_public and address_class(ip) == PUBLIC)
        return host in self.names or host.endswith(self.suffixes) or self.any_public


_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def _hostname(text: str, entry: str) -> str:
    """A DNS name, lowercase, in ASCII, without its trailing dot. A name whose last
    label is a number is refused: it is an IP address in a form resolvers guess at
    (``2130706433``, ``127.1``), never a name."""
    try:
        name = text.lower().removesuffix(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"not a host name: {entry!r}") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"not a host name: {entry!r}")
    if labels[-1].isdigit():
        raise ValueError(f"not a host name (an address in an unusual form?): {entry!r}")
    return name


# --- URLs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A well-formed URL's parts: lowercase host (no brackets, no trailing dot), port."""

    url: str
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class Destination(Target):
    """A URL ``check`` allowed, with the addresses it resolved to at that moment."""

    addresses: tuple[str, ...] = ()


def parse_url(url: str) -> Target:
    """Step 1. Raises ``Refused(code="malformed")`` saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise Refused("an http:// or https:// URL is required", code="malformed")
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"at most {MAX_URL_LENGTH} characters", code="malformed")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Refused("no spaces or control characters", code="malformed")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Refused("not a valid URL", code="malformed") from None
    try:
        raw_port = parts.port
    except ValueError:
        raise Refused("the port must be a number from 1 to 65535", code="malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused("only http:// and https:// URLs", code="malformed")
    if "@" in parts.netloc:
        raise Refused(
            "no user:password@ in the URL: credentials go in the credential fields",
            code="malformed",
        )
    if not parts.hostname:
        raise Refused("the URL has no host", code="malformed")
    if raw_port is not None and not 1 <= raw_port <= 65535:
        raise Refused("the port must be a number from 1 to 65535", code="malformed")
    host = parts.hostname
    if _ip(host) is None:
        try:
            host = _hostname(host, host)
        except ValueError:
            raise Refused("the host is not a valid name", code="malformed") from None
    port = raw_port or (443 if scheme == "https" else 80)
    return Target(url=url, scheme=scheme, host=host, port=port)


# --- the policy --------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    allow: AllowList
    resolve: Resolver = system_resolve

    def check(self, url: str) -> Destination:
        """Steps 1-5 of the module's invariant; raises ``Refused`` or returns the
        destination with the addresses it was allowed for."""
        target = parse_url(url)
        if self.allow.empty:
            raise Refused(
                "endpoint overrides are off on this installation "
                "(the operator lists allowed hosts in STACKDOCK_ENDPOINT_ALLOWLIST)",
                code="overrides_off",
            )
        literal = _ip(target.host)
        if literal is not None and address_class(literal) == FORBIDDEN:
            self._admit(target.host, literal)  # raises: the clearer reason for a literal
        if not self.allow.admits_host(target.host):
            raise Refused(
                f"host {target.host!r} is not on this installation's endpoint allow-list",
                code="not_allowed",
            )
        addresses = self._addresses(target)
        classes = {self._admit(target.host, ip) for ip in addresses}
        if target.scheme == "http" and classes != {PRIVATE}:
            raise Refused(
                "plain http:// only to loopback or private addresses; use https://",
                code="insecure",
            )
        return Destination(
            url=target.url,
            scheme=target.scheme,
            host=target.host,
            port=target.port,
            addresses=tuple(str(ip) for ip in addresses),
        )

    def _addresses(self, target: Target) -> list[IPAddress]:
        literal = _ip(target.host)
        if literal is not None:
            return [literal]
        try:
            answers = self.resolve(target.host, target.port)
            addresses = [ipaddress.ip_address(a) for a in answers]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise Refused(f"host {target.host!r} could not be resolved", code="unresolvable")
        return addresses

    def _admit(self, host: str, ip: IPAddress) -> str:
        """Step 4 for one address: its class, or ``Refused``."""
        kind = address_class(ip)
        if kind == FORBIDDEN:
            raise Refused(
                f"{host!r} is or resolves to a link-local, metadata or reserved address, "
                "which StackDock never connects to",
                code="forbidden_address",
            )
        if kind == PRIVATE and not (self.allow.in_networks(ip) or self.allow.lists_name(host)):
            raise Refused(
                f"{host!r} is or resolves to a loopback or private address that is not "
                "on the endpoint allow-list",
                code="private_address",
            )
        return kind


def current_policy() -> Policy:
    """The policy of this installation's settings, with the current ``resolver``."""
    from django.conf import settings

    return Policy(
        AllowList.parse(getattr(settings, "STACKDOCK_ENDPOINT_ALLOWLIST", ())), resolve=resolver
    )


def check(url: str) -> Destination:
    """``current_policy().check(url)``: the call every outbound connection makes first."""
    return current_policy().check(url)


# --- the Django validator ----------------------------------------------------------------
def validate_endpoint_url(value: Any) -> None:
    """Django validator: step 1 only (the rest depends on DNS and settings at connect
    time). Blank is allowed: it means "the provider's own endpoint"."""
    from django.core.exceptions import ValidationError

    if value in (None, ""):
        return
    try:
        parse_url(str(value))
    except Refused as exc:
        raise ValidationError(exc.reason, code="invalid_endpoint") from None


# --- what to say when an allowed endpoint fails -----------------------------------------
#: a connection's classified outcome -> the words shown for it, after "the endpoint"
#: (nothing the server sent)
REASONS = {
    "refused": "is refused by StackDock's outbound policy",
    "unreachable": "could not be reached (nothing listening, or no route)",
    "timeout": "did not answer in time",
    "tls": "failed the TLS handshake (certificate or protocol)",
    "closed": "closed the connection without an HTTP answer",
    "not_api": "answered, but not like the provider's API",
    "rejected": "rejected the credentials",
    "denied": "accepted the credentials but refused the request",
    "unavailable": "was unavailable or rate limited; try again",
    "error": "answered with an error",
}


def reason_for(kind: str | None) -> str:
    return REASONS.get(kind or "error", REASONS["error"])
