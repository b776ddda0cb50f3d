"""The outbound policy (stackdock/outbound.py) on its own: address classes, the allow-list,
URL syntax, and decisions made on resolved addresses (DNS answers from a fake resolver)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackdock.outbound import (
    FORBIDDEN,
    PRIVATE,
    PUBLIC,
    AllowList,
    Policy,
    Refused,
    address_class,
    parse_url,
)
from tests.fixtures.listener import FakeDns

#: the reference table, written from the invariant (not from the module's own list):
#: every address inside a network belongs to its class, except the listed exceptions
CLASSES: list[tuple[str, str, tuple[str, ...]]] = [
    # never connected to
    ("169.254.0.0/16", FORBIDDEN, ()),  # link-local, the metadata service's home
    ("fe80::/10", FORBIDDEN, ()),
    ("fd00:ec2::254/128", FORBIDDEN, ()),  # AWS metadata over IPv6
    ("fd20:ce::254/128", FORBIDDEN, ()),  # GCP metadata over IPv6
    ("100.100.100.200/32", FORBIDDEN, ()),  # Alibaba metadata
    ("0.0.0.0/8", FORBIDDEN, ()),
    ("224.0.0.0/4", FORBIDDEN, ()),
    ("240.0.0.0/4", FORBIDDEN, ()),
    ("ff00::/8", FORBIDDEN, ()),
    ("::/128", FORBIDDEN, ()),
    ("::ffff:169.254.0.0/112", FORBIDDEN, ()),  # IPv4-mapped
    ("64:ff9b::a9fe:0/112", FORBIDDEN, ()),  # NAT64 of 169.254/16
    ("2002:a9fe::/32", FORBIDDEN, ()),  # 6to4 of 169.254/16
    # loopback and private: only when allow-listed
    ("127.0.0.0/8", PRIVATE, ()),
    ("::1/128", PRIVATE, ()),
    ("10.0.0.0/8", PRIVATE, ()),
    ("172.16.0.0/12", PRIVATE, ()),
    ("192.168.0.0/16", PRIVATE, ()),
    ("100.64.0.0/10", PRIVATE, ("100.100.100.200",)),  # carrier-grade NAT
    ("fc00::/7", PRIVATE, ("fd00:ec2::254", "fd20:ce::254")),  # unique local
    ("::ffff:10.0.0.0/104", PRIVATE, ()),
    ("2002:0a00::/24", PRIVATE, ()),  # 6to4 of 10/8
    ("192.0.2.0/24", PRIVATE, ()),  # documentation
    ("198.18.0.0/15", PRIVATE, ()),  # benchmarking
    # public
    ("8.8.8.0/24", PUBLIC, ()),
    ("1.1.1.0/24", PUBLIC, ()),
    ("52.94.0.0/16", PUBLIC, ()),
    ("2606:4700::/32", PUBLIC, ()),
    ("::ffff:8.8.8.0/120", PUBLIC, ()),
]


@st.composite
def classified_address(draw: st.DrawFn, classes: tuple[str, ...] = (FORBIDDEN, PRIVATE, PUBLIC)):
    network, kind, exceptions = draw(st.sampled_from([c for c in CLASSES if c[1] in classes]))
    net = ipaddress.ip_network(network)
    offset = draw(st.integers(min_value=0, max_value=net.num_addresses - 1))
    address = str(net.network_address + offset)
    if address in exceptions:
        kind = FORBIDDEN
    return address, kind


@settings(max_examples=400, deadline=None)
@given(classified_address())
def test_every_address_is_in_the_class_the_table_gives(case):
    address, kind = case
    assert address_class(address) == kind


ENTRY_POOL = [
    "*",
    "*.test",
    "svc.test",
    "localhost",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/8",
    "127.0.0.0/8",
    "::1",
    "169.254.0.0/16",
    "fe80::/10",
    "100.64.0.0/10",
    "fc00::/7",
]


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(st.sampled_from(ENTRY_POOL), max_size=6),
    case=classified_address((FORBIDDEN,)),
    via_name=st.booleans(),
    scheme=st.sampled_from(["http", "https"]),
)
def test_no_allow_list_ever_opens_a_forbidden_address(entries, case, via_name, scheme):
    address, _ = case
    dns = FakeDns()
    dns.answer("svc.test", "8.8.8.8", address)  # one bad answer among good ones is enough
    host = "svc.test" if via_name else f"[{address}]" if ":" in address else address
    policy = Policy(AllowList.parse(entries), resolve=dns)
    with pytest.raises(Refused):
        policy.check(f"{scheme}://{host}:8443/")


def _expected(entries: list[str], address: str, via_name: bool, scheme: str) -> bool:
    """The invariant, step by step, for one private or public address."""
    allow = AllowList.parse(entries)
    ip = ipaddress.ip_address(address)
    listed_net = any(ip in ipaddress.ip_network(e) for e in entries if _is_net(e))
    kind = address_class(address)
    if allow.empty:
        return False
    if via_name:  # "svc.test": listed exactly, or by *.test, or by *
        exact = "svc.test" in entries
        if not (exact or "*.test" in entries or "*" in entries):
            return False
        if kind == PRIVATE and not (listed_net or exact):
            return False
    else:
        if not (listed_net or ("*" in entries and kind == PUBLIC)):
            return False
    return not (scheme == "http" and kind == PUBLIC)


def _is_net(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry)
    except ValueError:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(
    entries=st.lists(st.sampled_from(ENTRY_POOL), max_size=6),
    case=classified_address((PRIVATE, PUBLIC)),
    via_name=st.booleans(),
    scheme=st.sampled_from(["http", "https"]),
)
def test_private_needs_a_listed_network_or_exact_name_and_http_stays_off_the_internet(
    entries, case, via_name, scheme
):
    address, _ = case
    dns = FakeDns()
    dns.answer("svc.test", address)
    host = "svc.test" if via_name else f"[{address}]" if ":" in address else address
    policy = Policy(AllowList.parse(entries), resolve=dns)
    try:
        policy.check(f"{scheme}://{host}:8443/")
        allowed = True
    except Refused:
        allowed = False
    assert allowed == _expected(entries, address, via_name, scheme)


# --- decided after resolution -------------------------------------------------------------
DEV = ["localhost", "127.0.0.0/8", "::1"]

#: (url, allow-list, DNS answers, None if allowed else the refusal's code)
MATRIX = [
    ("http://127.0.0.1:4566", DEV, {}, None),
    ("http://localhost:4566", DEV, {"localhost": ["127.0.0.1", "::1"]}, None),
    ("http://[::1]:4566", DEV, {}, None),
    ("http://127.0.0.1:4566", [], {}, "overrides_off"),  # production's default
    ("https://minio.example.com", [], {}, "overrides_off"),
    ("https://minio.example.com", DEV, {}, "not_allowed"),
    ("http://169.254.169.254/latest/meta-data/", DEV, {}, "forbidden_address"),
    ("http://169.254.169.254/", ["0.0.0.0/0"], {}, "forbidden_address"),
    ("http://[fd00:ec2::254]/", ["::/0"], {}, "forbidden_address"),
    ("http://[::ffff:169.254.169.254]/", ["*"], {}, "forbidden_address"),
    ("http://10.0.0.5:9000", DEV, {}, "not_allowed"),
    ("http://10.0.0.5:9000", ["10.0.0.0/8"], {}, None),
    ("http://10.0.0.5:9000", ["*"], {}, "not_allowed"),  # * is public hosts only
    # a listed name that resolves to metadata, or to it among other answers
    ("http://localhost:4566", DEV, {"localhost": ["169.254.169.254"]}, "forbidden_address"),
    (
        "https://s3.corp.test",
        ["s3.corp.test"],
        {"s3.corp.test": ["8.8.8.8", "fe80::1"]},
        "forbidden_address",
    ),
    # an exactly listed name may be private; a wildcard or * may not
    ("http://minio.corp.test", ["minio.corp.test"], {"minio.corp.test": ["10.1.2.3"]}, None),
    (
        "http://minio.corp.test",
        ["*.corp.test"],
        {"minio.corp.test": ["10.1.2.3"]},
        "private_address",
    ),
    ("https://evil.test", ["*"], {"evil.test": ["127.0.0.1"]}, "private_address"),
    ("https://evil.test", ["*"], {"evil.test": ["8.8.8.8"]}, None),
    ("http://evil.test", ["*"], {"evil.test": ["8.8.8.8"]}, "insecure"),
    ("https://gone.test", ["gone.test"], {}, "unresolvable"),
    # malformed
    ("http://127.0.0.1:99999", DEV, {}, "malformed"),
    ("http://127.0.0.1:0", DEV, {}, "malformed"),
    ("http://127.0.0.1:http", DEV, {}, "malformed"),
    ("http://user:pass@127.0.0.1:4566", DEV, {}, "malformed"),
    ("http://token@127.0.0.1:4566", DEV, {}, "malformed"),
    ("ftp://127.0.0.1", DEV, {}, "malformed"),
    ("file:///etc/passwd", DEV, {}, "malformed"),
    ("http://", DEV, {}, "malformed"),
    ("http://[::1", DEV, {}, "malformed"),
    ("http://127.0.0.1 :80", DEV, {}, "malformed"),
    ("http://2130706433:4566", ["*"], {}, "malformed"),  # 127.0.0.1 to a resolver
    ("http://127.1:4566", ["*"], {}, "malformed"),
    ("http://0x7f.1:4566", ["*"], {}, "malformed"),
    ("http://127.0.0.1/" + "a" * 500, DEV, {}, "malformed"),
]


@pytest.mark.parametrize(("url", "entries", "answers", "code"), MATRIX)
def test_the_policy_decides_on_the_resolved_addresses(url, entries, answers, code):
    dns = FakeDns()
    for name, addresses in answers.items():
        dns.answer(name, *addresses)
    policy = Policy(AllowList.parse(entries), resolve=dns)
    if code is None:
        destination = policy.check(url)
        assert destination.addresses
    else:
        with pytest.raises(Refused) as refused:
            policy.check(url)
        assert refused.value.code == code
        assert "169.254" not in refused.value.reason or "169.254" in url  # no DNS answer told


def test_a_name_off_the_list_is_refused_before_any_dns_query():
    """Otherwise the check would tell which internal names exist."""
    dns = FakeDns()
    dns.answer("db.internal", "10.0.0.7")
    with pytest.raises(Refused) as refused:
        Policy(AllowList.parse(DEV), resolve=dns).check("http://db.internal:5432")
    assert refused.value.code == "not_allowed"
    assert dns.asked == []


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "*.", "bad host", "300.1.1.1", "fe80::/200", "a..b"]
)
def test_an_unreadable_allow_list_entry_is_named(entry):
    with pytest.raises(ValueError, match="entry|not"):
        AllowList.parse([entry])


def test_the_port_defaults_to_the_schemes():
    assert parse_url("https://minio.test").port == 443
    assert parse_url("http://minio.test").port == 80
    assert parse_url("http://MINIO.test.:81/x").host == "minio.test"
