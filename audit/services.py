"""Writing and verifying the audit log."""

from __future__ import annotations

import json
import os
import random
import re
import threading
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from audit.chain import (
    GENESIS,
    REGISTER_SUFFIX,
    chains_of,
    event_mac,
    head_mac,
    record_mac,
    register_of,
    scope_of_chain,
    scope_of_org,
)
from audit.keys import UnknownAuditKey, audit_keys
from audit.middleware import current_request_context
from audit.models import ActorType, AuditChainHead, AuditEvent, AuditLaneRecord, AuditStatus
from stackdock.utils.rows import db_time

if TYPE_CHECKING:
    from stackdock.models import Organization
    from stackdock.permissions import Actor

CENSOR = "********"
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


def _chain_for(org_id: int | None) -> str:
    return f"{scope_of_org(org_id)}:{_lane()}"


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
    f"INSERT INTO {_HEADS} (chain, seq, hash, key_id, mac, updated_at) "  # noqa: S608
    "VALUES (%s, 0, %s, %s, %s, %s) ON CONFLICT (chain) DO NOTHING"
)
_MOVE_HEAD = (
    f"UPDATE {_HEADS} SET seq = %s, hash = %s, key_id = %s, mac = %s, updated_at = %s "  # noqa: S608
    "WHERE chain = %s"
)


def _lock(chain: str, *, create: bool) -> tuple[int, str] | None:
    """Lock a head row (creating it at the genesis when ``create``); its ``(seq, hash)``,
    or None when it does not exist."""
    lock = _LOCK_HEAD + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    with connection.cursor() as cursor:
        cursor.execute(lock, [chain])
        row = cursor.fetchone()
        if row is None and create:
            key_id = audit_keys().signing_id
            mac = head_mac(chain, 0, GENESIS, key_id)
            cursor.execute(_ADD_HEAD, [chain, GENESIS, key_id, mac, db_time(timezone.now())])
            cursor.execute(lock, [chain])
            row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row is not None else None


def _move(chain: str, seq: int, hash_: str, key_id: str, at: Any) -> None:
    with connection.cursor() as cursor:
        mac = head_mac(chain, seq, hash_, key_id)
        cursor.execute(_MOVE_HEAD, [seq, hash_, key_id, mac, db_time(at), chain])


def _lock_head(chain: str) -> tuple[int, str]:
    """Lock the chain's head; its ``(seq, hash)``. A chain with no head yet is opened
    first: it and its scope's lanes get heads and an entry in the lane register."""
    head = _lock(chain, create=False)
    if head is None:
        _open_lanes(chain)
        head = _lock(chain, create=False)
    assert head is not None
    return head


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
    The event is signed here, in this process, under the lane head's lock: the key
    never travels to the database.
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
        metadata=json.loads(json.dumps(redact(metadata or {}), default=str)),
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        created_at=timezone.now(),
        key_id=audit_keys().signing_id,
    )
    # inside the caller's transaction no savepoint: a failed audit write fails the caller
    with transaction.atomic(savepoint=False):
        event.seq, event.prev_hash = _lock_head(chain)
        event.seq += 1
        event.hash = event_mac(event)
        event.save()
        _move(chain, event.seq, event.hash, event.key_id, event.created_at)
    return event


# --- the lane register ---------------------------------------------------------------


def _heads_of(scope: str) -> dict[str, AuditChainHead]:
    return {h.chain: h for h in AuditChainHead.objects.filter(chains_of(scope))}


def _last_record(scope: str) -> AuditLaneRecord | None:
    return AuditLaneRecord.objects.filter(scope=scope).order_by("-seq").first()


def _append_record(
    scope: str, register: tuple[int, str], lanes: dict[str, list[Any]], **extra: Any
) -> AuditLaneRecord:
    """Append an entry to the scope's lane register, whose head the caller has locked."""
    seq, prev_hash = register
    record = AuditLaneRecord(
        scope=scope,
        seq=seq + 1,
        lanes=lanes,
        created_at=timezone.now(),
        key_id=audit_keys().signing_id,
        prev_hash=prev_hash,
        **extra,
    )
    record.hash = record_mac(record)
    record.save()
    _move(register_of(scope), record.seq, record.hash, record.key_id, record.created_at)
    return record


def _open_lanes(chain: str) -> None:
    """Give ``chain`` and every lane of its scope a head at the genesis, and record them
    in the scope's lane register (under the register's lock: once per scope, unless
    ``AUDIT_LANES`` grows)."""
    scope = scope_of_chain(chain)
    if scope is None:
        raise ValueError(f"{chain!r} is not an audit chain name")
    register = _lock(register_of(scope), create=True)
    assert register is not None
    heads = _heads_of(scope)
    wanted = dict.fromkeys([chain, *(f"{scope}:{n}" for n in range(AUDIT_LANES))])
    missing = [c for c in wanted if c not in heads]
    if not missing:
        return  # another writer opened them while this one waited for the lock
    for name in missing:
        _lock(name, create=True)
    last = _last_record(scope)
    lanes = dict(last.lanes) if last is not None else {}
    lanes.update({name: [0, GENESIS] for name in missing})
    _append_record(scope, register, lanes)


def audit_checkpoint(*, scope: str) -> AuditLaneRecord | None:
    """Record every lane's current length and last hash in the scope's register (None
    when nothing changed since the last entry, or the scope has no register).

    Only lanes the register already knows are recorded, each only from a head whose
    signature holds: a head row added or moved behind the application's back is left
    for ``audit_verify`` to report, never written into the register."""
    with transaction.atomic():
        register = _lock(register_of(scope), create=False)
        last = _last_record(scope)
        if register is None or last is None:
            return None
        lanes = dict(last.lanes)
        for name, head in _heads_of(scope).items():
            if name not in lanes:
                continue
            try:
                genuine = head.mac == head_mac(name, head.seq, head.hash, head.key_id)
            except UnknownAuditKey:
                genuine = False
            if genuine and head.seq >= lanes[name][0]:
                lanes[name] = [head.seq, head.hash]
        if lanes == last.lanes:
            return None
        return _append_record(scope, register, lanes)


def audit_checkpoint_all() -> int:
    """``audit_checkpoint`` for every scope that has a register; how many changed."""
    registers = AuditChainHead.objects.filter(chain__endswith=REGISTER_SUFFIX).values_list(
        "chain", flat=True
    )
    return sum(
        audit_checkpoint(scope=name.removesuffix(REGISTER_SUFFIX)) is not None for name in registers
    )
