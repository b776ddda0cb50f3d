"""What the audit log signs, and how its chains are named.

A *scope* is an organization's part of the log (``org:<id>``) or the part with
no organization (``global``). A scope's chains are its lanes
(``<scope>:<n>``) and the single chain written before lanes existed
(``<scope>``); its lane register is the chain of ``AuditLaneRecord`` rows whose
head is ``<scope>/lanes``.

Three kinds of thing are signed with HMAC-SHA256 (``audit.keys``), each over a
text that starts with its kind so that no signature of one kind is valid for
another: an event (``event:`` + canonical JSON of every field but ``id`` and
``hash``), a head (``head|<chain>|<seq>|<hash>``) and a lane record
(``lanes:`` + canonical JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.db.models import Q

from audit.keys import audit_keys

GENESIS = "0" * 64
REGISTER_SUFFIX = "/lanes"
_CHAIN = re.compile(r"^(org:[0-9]{1,18}|global)(:[0-9]{1,4})?$")


def scope_of_org(org_id: int | None) -> str:
    """The name of an organization's scope (no organization: ``global``)."""
    return f"org:{org_id}" if org_id is not None else "global"


def scope_of_chain(chain: str) -> str | None:
    """The scope a chain name belongs to; None for a name no writer ever makes."""
    match = _CHAIN.match(chain)
    return match.group(1) if match else None


def org_of_scope(scope: str) -> int | None:
    return int(scope.split(":", 1)[1]) if scope.startswith("org:") else None


def register_of(scope: str) -> str:
    """The head row name of a scope's lane register."""
    return f"{scope}{REGISTER_SUFFIX}"


def chains_of(scope: str) -> Q:
    """Every chain of a scope: its lanes and the single chain written before lanes."""
    return Q(chain=scope) | Q(chain__startswith=f"{scope}:")


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _event_body(event: Any) -> dict[str, Any]:
    return {
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


def event_mac(event: Any) -> str:
    """The signature ``event`` must carry as its ``hash`` (under its ``key_id``).
    Raises ``UnknownAuditKey`` when the key is not configured."""
    text = b"event:" + _json({**_event_body(event), "key_id": event.key_id})
    return audit_keys().sign(text, event.key_id)


def legacy_hash(event: Any) -> str:
    """The plain SHA-256 events carried before the log was keyed (migration 0003)."""
    return hashlib.sha256(_json(_event_body(event))).hexdigest()


def head_mac(chain: str, seq: int, hash_: str, key_id: str) -> str:
    return audit_keys().sign(f"head|{chain}|{seq}|{hash_}".encode(), key_id)


def record_mac(record: Any) -> str:
    body = {
        "scope": record.scope,
        "seq": record.seq,
        "lanes": record.lanes,
        "legacy_problems": record.legacy_problems,
        "created_at": record.created_at.isoformat(timespec="microseconds"),
        "key_id": record.key_id,
        "prev_hash": record.prev_hash,
    }
    return audit_keys().sign(b"lanes:" + _json(body), record.key_id)
