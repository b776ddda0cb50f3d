"""Checking the audit log: every chain of a scope, its heads and its lane register.

What is checked, for a scope (an organization's part of the log, or ``global``):

- **the lane register**: entries numbered 1, 2, ... without a gap, each linked to
  the previous one's hash and signed; its head signed and on the last entry; a
  lane's recorded length never goes down;
- **every chain that exists in any form**: each chain of the register, each chain
  an event or a head names in the scope, and each chain holding an event of the
  organization. A chain the register does not know is reported (events inserted
  in a new chain, with or without a head), as is an event of the organization in
  another scope's chain;
- **each lane**: events numbered from 1 without a gap, each linked to the previous
  event's hash and carrying its signature under a configured key; a head that
  exists, is signed and points at the last event; every length the register
  recorded still there, with the hash it recorded (a lane deleted whole or cut back
  below a checkpoint is found even when its head was moved back with it).

Without a key nobody can produce a signature that holds, so an edited, inserted
or re-hashed event, head or register entry is found. What a database alone
cannot prove is that nothing newer than the last signed state was cut off by
someone who kept a copy of the rows from that time (a rollback to an old backup);
see docs/architecture/SECURITY.md.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from audit.chain import (
    GENESIS,
    REGISTER_SUFFIX,
    chains_of,
    event_mac,
    head_mac,
    org_of_scope,
    record_mac,
    register_of,
    scope_of_chain,
    scope_of_org,
)
from audit.keys import UnknownAuditKey
from audit.models import AuditChainHead, AuditEvent, AuditLaneRecord

if TYPE_CHECKING:
    from stackdock.models import Organization


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    chain: str
    seq: int
    reason: str
    #: found when the log was re-keyed (migration 0003) and recorded then: a fact
    #: about the log before it was keyed, not something that happened since
    recorded: bool = False

    def __str__(self) -> str:
        what = f"audit event {self.event_id}" if self.event_id else "audit chain"
        return f"{what} ({self.chain} #{self.seq}): {self.reason}"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _signed(sign: Any, stored: str) -> bool | None:
    """Whether ``stored`` is the signature ``sign()`` computes; None for an unknown key."""
    try:
        return _same(sign(), stored)
    except UnknownAuditKey:
        return None


def verify_chain(*, org: Organization | None = None, batch_size: int = 2000) -> ChainProblem | None:
    """The first problem found (recorded legacy problems aside), or None when intact."""
    return next((p for p in problems(org=org, batch_size=batch_size) if not p.recorded), None)


def problems(*, org: Organization | None = None, batch_size: int = 2000) -> Iterator[ChainProblem]:
    """Every problem of the organization's scope (default: of every scope)."""
    scopes = [scope_of_org(org.pk)] if org is not None else _all_scopes()
    for scope in scopes:
        yield from _scope_problems(scope, batch_size)
    if org is None:  # a head no writer could have made (an event is always in a scope)
        for chain in AuditChainHead.objects.values_list("chain", flat=True).order_by("chain"):
            if scope_of_chain(chain.removesuffix(REGISTER_SUFFIX)) is None:
                yield ChainProblem(0, chain, 0, "a head no writer makes")


def _all_scopes() -> list[str]:
    """Every scope named anywhere: by a register, a head, an event's chain or its org."""
    names: set[str] = set(AuditLaneRecord.objects.values_list("scope", flat=True).distinct())
    names.update(
        c.removesuffix(REGISTER_SUFFIX)
        for c in AuditChainHead.objects.values_list("chain", flat=True)
    )
    names.update(AuditEvent.objects.values_list("chain", flat=True).distinct())
    scopes = {scope_of_chain(n) for n in names}
    scopes.update(
        scope_of_org(o) for o in AuditEvent.objects.values_list("org_id", flat=True).distinct()
    )
    return sorted(s for s in scopes if s is not None)


def _scope_problems(scope: str, batch_size: int) -> Iterator[ChainProblem]:
    recorded: dict[str, tuple[int, str]] = {}
    yield from _register_problems(scope, recorded)
    org_id = org_of_scope(scope)
    mine = Q(org_id=org_id) if org_id is not None else Q(org__isnull=True)
    event_chains = set(
        AuditEvent.objects.filter(chains_of(scope) | mine)
        .values_list("chain", flat=True)
        .distinct()
    )
    heads = {h.chain: h for h in AuditChainHead.objects.filter(chains_of(scope))}
    for chain in sorted(event_chains | set(heads) | set(recorded)):
        if scope_of_chain(chain) != scope:
            first = AuditEvent.objects.filter(mine, chain=chain).order_by("seq").first()
            yield ChainProblem(
                first.pk if first else 0,
                chain,
                first.seq if first else 0,
                f"an event of {scope} in a chain that is not {scope}'s",
            )
            continue
        if chain not in recorded:
            first = AuditEvent.objects.filter(chain=chain).order_by("seq").first()
            yield ChainProblem(
                first.pk if first else 0,
                chain,
                first.seq if first else 0,
                "a chain the lane register does not know (inserted behind the log's back)",
            )
            continue
        yield from _lane_problems(chain, heads.get(chain), recorded[chain], batch_size)


def _register_problems(scope: str, recorded: dict[str, tuple[int, str]]) -> Iterator[ChainProblem]:
    """Check the scope's register; fill ``recorded`` with each lane's last recorded
    ``(length, hash)``."""
    name = register_of(scope)
    prev_hash, expected, last_hash = GENESIS, 1, GENESIS
    for record in AuditLaneRecord.objects.filter(scope=scope).order_by("seq").iterator():
        if record.seq != expected:
            yield ChainProblem(0, name, record.seq, f"expected entry #{expected}: one is missing")
        if not _same(record.prev_hash, prev_hash):
            yield ChainProblem(0, name, record.seq, "previous hash does not match")
        ok = _signed(lambda r=record: record_mac(r), record.hash)
        if not ok:
            reason = "signed with an unknown key" if ok is None else "contents were changed"
            yield ChainProblem(0, name, record.seq, reason)
        for problem in record.legacy_problems:
            yield ChainProblem(0, name, record.seq, str(problem), recorded=True)
        for chain, (length, hash_) in sorted(record.lanes.items()):
            before = recorded.get(chain)
            if before is not None and (
                length < before[0] or (length == before[0] and hash_ != before[1])
            ):
                yield ChainProblem(0, chain, length, f"register entry #{record.seq} goes back")
            recorded[chain] = (int(length), str(hash_))
        prev_hash, expected, last_hash = record.hash, record.seq + 1, record.hash
    head = AuditChainHead.objects.filter(chain=name).first()
    if expected == 1 and head is None:
        if AuditEvent.objects.filter(chains_of(scope)).exists() or (
            AuditChainHead.objects.filter(chains_of(scope)).exists()
        ):
            yield ChainProblem(0, name, 0, "the scope has chains but no lane register")
        return
    yield from _head_problems(name, head, expected - 1, last_hash)


def _head_problems(
    chain: str, head: AuditChainHead | None, last_seq: int, last_hash: str
) -> Iterator[ChainProblem]:
    if head is None:
        yield ChainProblem(0, chain, last_seq, "the head is missing")
        return
    ok = _signed(lambda: head_mac(chain, head.seq, head.hash, head.key_id), head.mac)
    if not ok:
        reason = "signed with an unknown key" if ok is None else "the head was changed"
        yield ChainProblem(0, chain, head.seq, f"{reason} (head)")
    if head.seq > last_seq:
        yield ChainProblem(0, chain, head.seq, f"events after #{last_seq} are missing")
    elif head.seq < last_seq:
        yield ChainProblem(0, chain, last_seq, f"entries after the head (#{head.seq})")
    elif not _same(head.hash, last_hash):
        yield ChainProblem(0, chain, head.seq, "the head's hash is not the last one's")


def _lane_problems(
    chain: str, head: AuditChainHead | None, recorded: tuple[int, str], batch_size: int
) -> Iterator[ChainProblem]:
    prev_hash, expected, last_seq = GENESIS, 1, 0
    recorded_len, recorded_hash = recorded
    qs = AuditEvent.objects.filter(chain=chain).order_by("seq")
    while True:
        batch = list(qs.filter(seq__gt=last_seq)[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.seq != expected:
                yield ChainProblem(
                    event.pk, chain, event.seq, f"expected #{expected}: an event is missing"
                )
            if not _same(event.prev_hash, prev_hash):
                yield ChainProblem(event.pk, chain, event.seq, "previous hash does not match")
            ok = _signed(lambda e=event: event_mac(e), event.hash)
            if not ok:
                reason = "signed with an unknown key" if ok is None else "contents were changed"
                yield ChainProblem(event.pk, chain, event.seq, reason)
            if event.seq == recorded_len and not _same(event.hash, recorded_hash):
                yield ChainProblem(
                    event.pk, chain, event.seq, "not the event the lane register recorded"
                )
            prev_hash, expected, last_seq = event.hash, event.seq + 1, event.seq
    if last_seq < recorded_len:
        yield ChainProblem(
            0, chain, recorded_len, f"the register recorded #{recorded_len}: events are missing"
        )
    yield from _head_problems(chain, head, last_seq, prev_hash)
