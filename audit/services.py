"""Writing and verifying the audit log."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.middleware import current_request_context
from audit.models import ActorType, AuditChainHead, AuditEvent, AuditStatus
from stackdock.utils.rows import db_time

if TYPE_CHECKING:
    from stackdock.models import Organization
    from stackdock.permissions import Actor

CENSOR = "********"
GENESIS = "0" * 64
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|(^|_)key$|api_?key|private|credential|authorization|cookie|session",
    re.IGNORECASE,
)


def redact(value: Any) -> Any:
    """Replace, recursively, the value of any key that names a secret."""
    if isinstance(value, dict):
        return {
            str(k): (CENSOR if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


#: Chains ("lanes") per organization. Every append locks its chain's head until
#: the transaction commits, so with one chain per organization its web requests
#: and workers all queued behind each other; a writer now appends to the lane of
#: its thread (picked at random once per thread). A transaction runs on one
#: thread, so it locks at most one lane of an organization. Each lane is a
#: complete hash chain with its own head: verification covers every lane.
AUDIT_LANES = 16
_thread = threading.local()


def _forget_lane() -> None:
    _thread.__dict__.pop("lane", None)


# a forked worker process picks a lane of its own, not its parent's
os.register_at_fork(after_in_child=_forget_lane)


def _lane() -> int:
    lane: int | None = getattr(_thread, "lane", None)
    if lane is None:
        lane = _thread.lane = random.randrange(AUDIT_LANES)  # noqa: S311 - not a secret
    return lane


def _scope(org_id: int | None) -> str:
    """The name of an organization's chains (the global ones: ``global``)."""
    return f"org:{org_id}" if org_id is not None else "global"


def _chain_for(org_id: int | None) -> str:
    return f"{_scope(org_id)}:{_lane()}"


def chains_of(org_id: int | None) -> Q:
    """Every chain of an organization (or the global one): its lanes and the single
    chain written before lanes existed (``org:<id>``, ``global``)."""
    scope = _scope(org_id)
    return Q(chain=scope) | Q(chain__startswith=f"{scope}:")


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "chain": event.chain,
        "seq": event.seq,
        "org": event.org_id,
        "actor_type": event.actor_type,
        "actor_user": event.actor_user_id,
        "actor_token_prefix": event.actor_token_prefix,
        "actor_repr": event.actor_repr,
        "operation": event.operation,
        "status": event.status,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "metadata": event.metadata,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def _canonical_around_head(event: AuditEvent) -> tuple[str, str, str] | None:
    """The canonical text of ``event`` in three parts, such that for a head at
    ``(seq, hash)`` it is ``parts[0] + hash + parts[1] + str(seq + 1) + parts[2]``:
    the database fills in the two values it alone knows, under the head's lock.
    None if a placeholder happens to occur elsewhere in the event (never in practice)."""
    marker = secrets.token_hex(16)
    prev_mark, seq_mark = f"p{marker}", f"s{marker}"
    probe = copy.copy(event)
    probe.prev_hash, probe.seq = prev_mark, seq_mark  # type: ignore[assignment]
    text = _canonical(probe).decode()
    quoted_seq = f'"{seq_mark}"'
    if text.count(marker) != 2 or text.count(quoted_seq) != 1:
        return None
    before, after = text.split(prev_mark)
    if quoted_seq in before:  # keys are sorted: prev_hash comes before seq
        return None
    middle, end = after.split(quoted_seq)
    return before, middle, end


def _target_fields(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, tuple):  # (type, id, repr) for things that are not rows
        kind, ident, text = target
        return str(kind)[:64], str(ident)[:64], str(text)[:300]
    meta = getattr(target, "_meta", None)
    kind = meta.label_lower if meta is not None else type(target).__name__.lower()
    return kind[:64], str(getattr(target, "pk", ""))[:64], str(target)[:300]


_HEADS = AuditChainHead._meta.db_table
#: appends to a chain hold its head's row lock until their transaction ends
#: (SQLite has no row locks: its write transactions already run one at a time)
_LOCK_HEAD = f"SELECT seq, hash FROM {_HEADS} WHERE chain = %s"  # noqa: S608 - constant table
_ADD_HEAD = (
    f"INSERT INTO {_HEADS} (chain, seq, hash, updated_at) VALUES (%s, 0, %s, %s) "  # noqa: S608
    "ON CONFLICT (chain) DO NOTHING"
)
_MOVE_HEAD = f"UPDATE {_HEADS} SET seq = %s, hash = %s, updated_at = %s WHERE chain = %s"  # noqa: S608


_EVENTS = AuditEvent._meta.db_table
_EVENT_COLUMNS = (
    "chain", "org_id", "actor_type", "actor_user_id", "actor_token_prefix", "actor_repr",
    "operation", "status", "target_type", "target_id", "target_repr", "metadata", "ip",
    "user_agent", "request_id", "created_at",
)  # fmt: skip
#: PostgreSQL: lock the head, insert the event with the next number, the head's hash
#: as its previous one and its own hash (SHA-256 of its canonical text, built here
#: around those two values), and move the head - one statement, atomic by itself,
#: instead of five round trips (BEGIN, lock, INSERT, UPDATE, COMMIT). No row when
#: the chain has no head yet.
_APPEND = (
    f"WITH head AS (SELECT seq, hash FROM {_HEADS} WHERE chain = %s FOR UPDATE), "  # noqa: S608
    f"event AS (INSERT INTO {_EVENTS} ({', '.join(_EVENT_COLUMNS)}, seq, prev_hash, hash) "
    f"SELECT {', '.join('%s::jsonb' if c == 'metadata' else '%s' for c in _EVENT_COLUMNS)}, "
    "head.seq + 1, head.hash, encode(sha256(convert_to("
    "%s || head.hash || %s || (head.seq + 1)::text || %s, 'UTF8')), 'hex') FROM head "
    "RETURNING id, seq, prev_hash, hash), "
    f"moved AS (UPDATE {_HEADS} SET seq = event.seq, hash = event.hash, updated_at = %s "
    f"FROM event WHERE {_HEADS}.chain = %s) "
    "SELECT id, seq, prev_hash, hash FROM event"
)


def _lock_head(chain: str) -> tuple[int, str]:
    """Lock the chain's head (creating it at the genesis); its ``(seq, hash)``.

    Two hand-written statements at most instead of the ORM's get-or-create: every
    audit event pays for this while holding the lock, so it is kept short.
    """
    lock = _LOCK_HEAD + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    with connection.cursor() as cursor:
        cursor.execute(lock, [chain])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_ADD_HEAD, [chain, GENESIS, db_time(timezone.now())])
            cursor.execute(lock, [chain])
            row = cursor.fetchone()
    return int(row[0]), str(row[1])


def audit_log(
    *,
    actor: Actor | None,
    org: Organization | None,
    operation: str,
    status: str = AuditStatus.SUCCESS,
    target: Any = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event, inside the caller's transaction (or its own).

    ``metadata`` is redacted recursively: any key naming a secret is censored.
    """
    if status not in AuditStatus.values:
        raise ValueError(f"unknown audit status {status!r}")
    ctx = current_request_context()
    target_type, target_id, target_repr = _target_fields(target)
    if actor is None or actor.is_system:
        actor_type, user_id, token_prefix = ActorType.SYSTEM, None, ""
        actor_repr = str(actor) if actor is not None else "system"
    else:
        user_id = actor.user.pk if actor.user is not None else None
        token_prefix = actor.token.prefix if actor.token is not None else ""
        actor_type = ActorType.TOKEN if actor.token is not None else ActorType.USER
        actor_repr = str(actor)
    org_id = org.pk if org is not None else None
    chain = _chain_for(org_id)
    clean_metadata = json.loads(json.dumps(redact(metadata or {}), default=str))
    event = AuditEvent(
        chain=chain,
        org_id=org_id,
        actor_type=actor_type,
        actor_user_id=user_id,
        actor_token_prefix=token_prefix,
        actor_repr=actor_repr[:300],
        operation=operation,
        status=status,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        metadata=clean_metadata,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        created_at=timezone.now(),
    )
    if connection.vendor == "postgresql" and _append_in_one_statement(event):
        return event
    # inside the caller's transaction no savepoint: a failed audit write fails the caller
    with transaction.atomic(savepoint=False):
        head_seq, head_hash = _lock_head(chain)
        event.seq, event.prev_hash = head_seq + 1, head_hash
        event.hash = compute_hash(event)
        event.save()
        with connection.cursor() as cursor:
            cursor.execute(_MOVE_HEAD, [event.seq, event.hash, db_time(event.created_at), chain])
    return event


def _append_in_one_statement(event: AuditEvent) -> bool:
    """Append ``event`` with ``_APPEND`` (creating its chain's head first if needed);
    fill in its id, number and hashes. False if its text cannot be split (the caller
    then appends it in steps)."""
    parts = _canonical_around_head(event)
    if parts is None:
        return False
    at = db_time(event.created_at)
    params = [
        event.chain,
        *(
            json.dumps(event.metadata)
            if column == "metadata"
            else at
            if column == "created_at"
            else getattr(event, column)
            for column in _EVENT_COLUMNS
        ),
        *parts,
        at,
        event.chain,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_APPEND, params)
        row = cursor.fetchone()
        if row is None:  # the chain's first event: make its head, then append
            cursor.execute(_ADD_HEAD, [event.chain, GENESIS, at])
            cursor.execute(_APPEND, params)
            row = cursor.fetchone()
    event.pk, event.seq, event.prev_hash, event.hash = row
    event._state.adding = False
    return True


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    chain: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit event {self.event_id} ({self.chain} #{self.seq}): {self.reason}"


def verify_chain(*, org: Organization | None = None, batch_size: int = 2000) -> ChainProblem | None:
    """Recompute every hash; return the first broken event, or None when intact."""
    heads = AuditChainHead.objects.order_by("chain")
    if org is not None:
        heads = heads.filter(chains_of(org.pk))
    chains = list(heads.values_list("chain", flat=True))
    for chain in chains:
        prev_hash, expected_seq = GENESIS, 1
        qs = AuditEvent.objects.filter(chain=chain).order_by("seq")
        last_seq = 0
        while True:
            batch = list(qs.filter(seq__gt=last_seq)[:batch_size])
            if not batch:
                break
            for event in batch:
                if event.seq != expected_seq:
                    return ChainProblem(
                        event.pk, chain, event.seq, f"expected #{expected_seq}: an event is missing"
                    )
                if event.prev_hash != prev_hash:
                    return ChainProblem(event.pk, chain, event.seq, "previous hash does not match")
                if compute_hash(event) != event.hash:
                    return ChainProblem(event.pk, chain, event.seq, "contents were changed")
                prev_hash, expected_seq, last_seq = event.hash, event.seq + 1, event.seq
        head = AuditChainHead.objects.filter(chain=chain).first()
        if head is not None and head.seq != last_seq:
            return ChainProblem(0, chain, head.seq, f"events after #{last_seq} are missing")
    return None
