"""R2 buckets (cursor-paged) and D1 databases (page-numbered)."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from .api import ApiError, Call, Reply, bad_request, not_found, paginate
from .state import now_iso

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_LOCATIONS = ("apac", "eeur", "enam", "weur", "wnam", "oc")
_STORAGE_CLASSES = ("Standard", "InfrequentAccess")
_JURISDICTIONS = ("default", "eu", "us", "fedramp", "fedramp-high")
_D1_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- R2 ---------------------------------------------------------------------
def _buckets(call: Call, account_id: str) -> dict[str, dict[str, Any]]:
    call.check_account(account_id)
    return call.state.buckets.setdefault(account_id, {})


def _get_bucket(call: Call, account_id: str, name: str) -> dict[str, Any]:
    bucket = _buckets(call, account_id).get(name)
    if bucket is None:
        raise not_found(10006, "The specified bucket does not exist.")
    return bucket


def _encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        raise bad_request(10001, "Invalid cursor") from None


def list_buckets(call: Call, account_id: str) -> Reply:
    buckets = sorted(_buckets(call, account_id).values(), key=lambda b: b["name"])
    descending = call.arg("direction") == "desc"
    if descending:
        buckets.reverse()
    contains = call.arg("name_contains")
    if contains:
        buckets = [b for b in buckets if contains in b["name"]]
    after = call.arg("start_after")
    cursor = call.arg("cursor")
    if cursor:
        after = _decode_cursor(cursor)
    if after is not None:
        buckets = [b for b in buckets if (b["name"] < after if descending else b["name"] > after)]
    per_page = call.int_arg("per_page", 20)
    if not 1 <= per_page <= 1000:
        raise bad_request(10001, "per_page must be between 1 and 1000")
    page = buckets[:per_page]
    info: dict[str, Any] = {"per_page": per_page}
    if len(buckets) > per_page:
        info["cursor"] = _encode_cursor(page[-1]["name"])
    return Reply(result={"buckets": page}, result_info=info)


def create_bucket(call: Call, account_id: str) -> Reply:
    buckets = _buckets(call, account_id)
    body = call.json()
    name = body.get("name")
    if not isinstance(name, str) or not _BUCKET_NAME.match(name):
        raise bad_request(10005, "The specified bucket name is not valid.")
    location = body.get("locationHint") or "wnam"
    if location not in _LOCATIONS:
        raise bad_request(10040, f"Invalid location hint {location!r}")
    storage_class = body.get("storageClass") or "Standard"
    if storage_class not in _STORAGE_CLASSES:
        raise bad_request(10040, f"Invalid storage class {storage_class!r}")
    jurisdiction = call.request.headers.get("cf-r2-jurisdiction") or "default"
    if jurisdiction not in _JURISDICTIONS:
        raise bad_request(10040, f"Invalid jurisdiction {jurisdiction!r}")
    if name in buckets:
        raise ApiError(409, 10004, "The bucket you tried to create already exists, and you own it.")
    bucket = {
        "name": name,
        "creation_date": now_iso(),
        "location": location,
        "storage_class": storage_class,
        "jurisdiction": jurisdiction,
    }
    buckets[name] = bucket
    return Reply(result=bucket)


def read_bucket(call: Call, account_id: str, name: str) -> Reply:
    return Reply(result=_get_bucket(call, account_id, name))


def edit_bucket(call: Call, account_id: str, name: str) -> Reply:
    bucket = _get_bucket(call, account_id, name)
    storage_class = call.request.headers.get("cf-r2-storage-class")
    if storage_class not in _STORAGE_CLASSES:
        raise bad_request(10040, f"Invalid storage class {storage_class!r}")
    bucket["storage_class"] = storage_class
    return Reply(result=bucket)


def delete_bucket(call: Call, account_id: str, name: str) -> Reply:
    _get_bucket(call, account_id, name)
    del call.state.buckets[account_id][name]
    return Reply(result={})


# --- D1 -----------------------------------------------------------------------
def _databases(call: Call, account_id: str) -> dict[str, dict[str, Any]]:
    call.check_account(account_id)
    return call.state.databases.setdefault(account_id, {})


def _get_database(call: Call, account_id: str, database_id: str) -> dict[str, Any]:
    databases = _databases(call, account_id)
    try:
        uuid.UUID(database_id)
    except ValueError:
        raise bad_request(7400, "The request is malformed: invalid database id") from None
    database = databases.get(database_id)
    if database is None:
        raise not_found(7404, f"The database {database_id} could not be found")
    return database


def _list_view(database: dict[str, Any]) -> dict[str, Any]:
    keys = ("uuid", "name", "version", "created_at", "file_size", "num_tables", "jurisdiction")
    return {k: database[k] for k in keys if database.get(k) is not None}


def list_databases(call: Call, account_id: str) -> Reply:
    databases = sorted(_databases(call, account_id).values(), key=lambda d: d["created_at"])
    name = call.arg("name")
    if name:
        databases = [d for d in databases if name in d["name"]]
    reply = paginate(call, databases, default_per_page=1000, min_per_page=10, max_per_page=10000)
    reply.result = [_list_view(d) for d in reply.result]
    return reply


def _read_replication(value: Any) -> dict[str, str]:
    mode = value.get("mode") if isinstance(value, dict) else None
    if mode not in ("auto", "disabled"):
        raise bad_request(7400, "read_replication.mode must be 'auto' or 'disabled'")
    return {"mode": mode}


def create_database(call: Call, account_id: str) -> Reply:
    databases = _databases(call, account_id)
    body = call.json()
    name = body.get("name")
    if not isinstance(name, str) or not _D1_NAME.match(name):
        raise bad_request(7400, "The database name is invalid")
    if any(d["name"] == name for d in databases.values()):
        raise bad_request(7502, "A database with that name already exists")
    hint = body.get("primary_location_hint")
    if hint is not None and hint not in _LOCATIONS:
        raise bad_request(7400, f"Invalid primary_location_hint {hint!r}")
    jurisdiction = body.get("jurisdiction")
    if jurisdiction is not None and jurisdiction not in ("eu", "fedramp", "us"):
        raise bad_request(7400, f"Invalid jurisdiction {jurisdiction!r}")
    replication = body.get("read_replication")
    database = {
        "uuid": str(uuid.uuid4()),
        "name": name,
        "version": "production",
        "created_at": now_iso(),
        "file_size": 12288,
        "num_tables": 0,
        "jurisdiction": jurisdiction,
        "read_replication": _read_replication(replication) if replication else {"mode": "disabled"},
        "primary_location_hint": hint,
    }
    databases[database["uuid"]] = database
    return Reply(result=_detail_view(database))


def _detail_view(database: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in database.items() if v is not None and k != "primary_location_hint"}


def read_database(call: Call, account_id: str, database_id: str) -> Reply:
    return Reply(result=_detail_view(_get_database(call, account_id, database_id)))


def edit_database(call: Call, account_id: str, database_id: str) -> Reply:
    database = _get_database(call, account_id, database_id)
    body = call.json()
    if "read_replication" in body:
        database["read_replication"] = _read_replication(body["read_replication"])
    return Reply(result=_detail_view(database))


def delete_database(call: Call, account_id: str, database_id: str) -> Reply:
    _get_database(call, account_id, database_id)
    del call.state.databases[account_id][database_id]
    return Reply(result=None)
