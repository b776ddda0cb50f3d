"""Re-sign a log written before it was keyed (migration 0003), once.

Until migration 0003 an event's hash was a plain SHA-256 of its canonical text,
which anyone who can write the database can recompute. The migration re-signs
every existing chain under the first key of ``STACKDOCK_AUDIT_KEYS``:

1. each chain is first checked the old way (numbering, links, plain hashes, its
   head); whatever is wrong is kept as text in the scope's first lane-register
   entry (``legacy_problems``), signed with the rest, so re-signing cannot launder
   an earlier forgery: ``audit_verify`` prints those as "recorded" problems;
2. every event gets the signing key's id and a signature, linked to its
   predecessor's new signature, keeping its number;
3. every chain's head is rebuilt on its last event and signed, every lane of the
   scope gets a head, and the scope's lane register starts with one entry listing
   them all.

On PostgreSQL the append-only trigger is switched off for the re-signing and on
again in the same transaction (a migration runs as the tables' owner).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils import timezone

from audit.chain import (
    GENESIS,
    event_mac,
    head_mac,
    legacy_hash,
    record_mac,
    register_of,
    scope_of_chain,
)
from audit.keys import audit_keys

#: how many legacy problems a scope's first register entry keeps (then a count)
MAX_RECORDED = 100
LANES = 16  # audit.services.AUDIT_LANES when migration 0003 was written


def rekey_all(event_model: Any, head_model: Any, record_model: Any) -> dict[str, int]:
    """Re-sign every scope; ``{scope: events re-signed}``. The models may be a
    migration's historical ones."""
    chains: dict[str, set[str]] = defaultdict(set)
    names = set(event_model.objects.values_list("chain", flat=True).distinct())
    names.update(head_model.objects.values_list("chain", flat=True))
    for chain in names:
        scope = scope_of_chain(chain)
        if scope is not None:
            chains[scope].add(chain)
    done = {}
    for scope in sorted(chains):
        if record_model.objects.filter(scope=scope).exists():
            continue  # already keyed
        done[scope] = _rekey_scope(
            scope, sorted(chains[scope]), event_model, head_model, record_model
        )
    return done


def _rekey_scope(
    scope: str, chains: list[str], event_model: Any, head_model: Any, record_model: Any
) -> int:
    key_id = audit_keys().signing_id
    problems: list[str] = []
    lanes: dict[str, list[Any]] = {}
    count = 0
    for chain in chains:
        head = head_model.objects.filter(chain=chain).first()
        prev_old, prev_new, last_seq, expected = GENESIS, GENESIS, 0, 1
        for event in event_model.objects.filter(chain=chain).order_by("seq").iterator():
            where = f"{chain} #{event.seq} (event {event.pk})"
            if event.seq != expected:
                problems.append(f"{where}: expected #{expected}, an event was missing")
            if event.prev_hash != prev_old:
                problems.append(f"{where}: its previous hash did not match")
            if legacy_hash(event) != event.hash:
                problems.append(f"{where}: its contents had been changed")
            prev_old = event.hash
            event.key_id, event.prev_hash = key_id, prev_new
            event.hash = event_mac(event)
            event_model.objects.filter(pk=event.pk).update(
                key_id=event.key_id, prev_hash=event.prev_hash, hash=event.hash
            )
            prev_new, last_seq, expected = event.hash, event.seq, event.seq + 1
            count += 1
        if head is not None and (head.seq, head.hash) != (last_seq, prev_old):
            problems.append(f"{chain}: its head was at #{head.seq}, the last event at #{last_seq}")
        _put_head(head_model, chain, last_seq, prev_new, key_id)
        lanes[chain] = [last_seq, prev_new]
    for n in range(LANES):
        lane = f"{scope}:{n}"
        if lane not in lanes:
            _put_head(head_model, lane, 0, GENESIS, key_id)
            lanes[lane] = [0, GENESIS]
    if len(problems) > MAX_RECORDED:
        problems = [*problems[:MAX_RECORDED], f"and {len(problems) - MAX_RECORDED:,} more"]
    record = record_model(
        scope=scope,
        seq=1,
        lanes=lanes,
        legacy_problems=problems,
        created_at=timezone.now(),
        key_id=key_id,
        prev_hash=GENESIS,
    )
    record.hash = record_mac(record)
    record.save()
    _put_head(head_model, register_of(scope), 1, record.hash, key_id)
    return count


def _put_head(head_model: Any, chain: str, seq: int, hash_: str, key_id: str) -> None:
    head_model.objects.update_or_create(
        chain=chain,
        defaults={
            "seq": seq,
            "hash": hash_,
            "key_id": key_id,
            "mac": head_mac(chain, seq, hash_, key_id),
        },
    )
