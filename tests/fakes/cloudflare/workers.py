"""Workers scripts (module upload, list, content, delete) and workers.dev subdomains."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .api import Call, Reply, bad_request, not_found
from .state import Script, new_id, now_iso

_SCRIPT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,62}$")
_MODULE_TYPES = {
    "application/javascript+module",
    "text/javascript+module",
    "application/javascript",
    "text/javascript",
    "text/x-python",
    "text/x-python-requirement",
    "application/wasm",
    "text/plain",
    "application/octet-stream",
    "application/source-map",
}
MAX_SCRIPT_BYTES = 10 * 1024 * 1024


def _script_view(script: Script) -> dict[str, Any]:
    source = script.modules[script.main_module][0].decode("utf-8", "replace")
    handlers = [h for h in ("fetch", "scheduled", "queue") if h in source] or ["fetch"]
    return {
        "id": script.name,
        "tag": script.tag,
        "etag": script.etag,
        "handlers": handlers,
        "named_handlers": [],
        "created_on": script.created_on,
        "modified_on": script.modified_on,
        "compatibility_date": script.compatibility_date,
        "compatibility_flags": script.compatibility_flags,
        "entry_point": script.main_module,
        "has_assets": False,
        "has_modules": True,
        "logpush": False,
        "usage_model": "standard",
        "last_deployed_from": "api",
    }


def _get_script(call: Call, account_id: str, name: str) -> Script:
    call.check_account(account_id)
    script = call.state.scripts.get(account_id, {}).get(name)
    if script is None:
        raise not_found(10007, "This Worker does not exist on your account.")
    return script


def _check_compatibility_date(value: Any) -> str | None:
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise bad_request(10021, f"Invalid compatibility date {value!r}: expected YYYY-MM-DD")
    if parsed > (datetime.now(UTC) + timedelta(days=1)).date():
        raise bad_request(10021, "The compatibility date cannot be in the future")
    return value


def _read_modules(call: Call) -> dict[str, tuple[bytes, str]]:
    modules: dict[str, tuple[bytes, str]] = {}
    for key, storage in call.request.files.items(multi=True):
        filename = storage.filename or key
        content_type = (storage.mimetype or "application/octet-stream").lower()
        if content_type not in _MODULE_TYPES:
            raise bad_request(
                10021, f"module {filename} has unsupported Content-Type {content_type}"
            )
        modules[filename] = (storage.read(), content_type)
    return modules


def upload_script(call: Call, account_id: str, name: str) -> Reply:
    call.check_account(account_id)
    if not (call.request.mimetype or "").startswith("multipart/form-data"):
        raise bad_request(10021, "Expected a multipart/form-data upload")
    if not _SCRIPT_NAME.match(name) or name.endswith("-"):
        raise bad_request(10016, "Invalid Worker name")
    raw_metadata = call.request.form.get("metadata")
    if raw_metadata is None and "metadata" in call.request.files:
        raw_metadata = call.request.files["metadata"].read().decode()
    if raw_metadata is None:
        raise bad_request(10021, "could not read content for part metadata")
    try:
        metadata = json.loads(raw_metadata)
    except ValueError:
        raise bad_request(10021, "metadata part is not valid JSON") from None
    modules = _read_modules(call)
    main = metadata.get("main_module") or metadata.get("body_part")
    if not main:
        raise bad_request(10021, "metadata must name a main_module")
    if main not in modules:
        raise bad_request(10021, f'Uncaught Error: No such module "{main}".')
    if sum(len(content) for content, _ in modules.values()) > MAX_SCRIPT_BYTES:
        raise bad_request(10027, "Your Worker exceeded the size limit of 10 MiB")
    compatibility_date = _check_compatibility_date(metadata.get("compatibility_date"))
    scripts = call.state.scripts.setdefault(account_id, {})
    existing = scripts.get(name)
    stamp = now_iso()
    script = Script(
        name=name,
        account_id=account_id,
        main_module=main,
        modules=modules,
        compatibility_date=compatibility_date,
        compatibility_flags=list(metadata.get("compatibility_flags") or []),
        tag=existing.tag if existing else new_id(),
        etag=hashlib.sha256(modules[main][0]).hexdigest(),
        created_on=existing.created_on if existing else stamp,
        modified_on=stamp,
        workers_dev=existing.workers_dev if existing else False,
        previews_enabled=existing.previews_enabled if existing else False,
    )
    scripts[name] = script
    return Reply(result={**_script_view(script), "startup_time_ms": 2})


def list_scripts(call: Call, account_id: str) -> Reply:
    call.check_account(account_id)
    scripts = sorted(call.state.scripts.get(account_id, {}).values(), key=lambda s: s.name)
    return Reply(result=[_script_view(s) for s in scripts])


def script_content(call: Call, account_id: str, name: str) -> Reply:
    script = _get_script(call, account_id, name)
    content, content_type = script.modules[script.main_module]
    return Reply(raw=content, content_type=content_type)


def delete_script(call: Call, account_id: str, name: str) -> Reply:
    _get_script(call, account_id, name)
    del call.state.scripts[account_id][name]
    return Reply(result=None)


def get_script_subdomain(call: Call, account_id: str, name: str) -> Reply:
    script = _get_script(call, account_id, name)
    return Reply(
        result={"enabled": script.workers_dev, "previews_enabled": script.previews_enabled}
    )


def set_script_subdomain(call: Call, account_id: str, name: str) -> Reply:
    script = _get_script(call, account_id, name)
    body = call.json()
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise bad_request(10021, "enabled must be a boolean")
    if enabled and not call.state.accounts[account_id].workers_subdomain:
        raise bad_request(
            10032, "Register a workers.dev subdomain before enabling it for a Worker."
        )
    script.workers_dev = enabled
    if isinstance(body.get("previews_enabled"), bool):
        script.previews_enabled = body["previews_enabled"]
    return Reply(
        result={"enabled": script.workers_dev, "previews_enabled": script.previews_enabled}
    )


def account_subdomain(call: Call, account_id: str) -> Reply:
    call.check_account(account_id)
    subdomain = call.state.accounts[account_id].workers_subdomain
    if not subdomain:
        raise not_found(10007, "This account does not have a workers.dev subdomain.")
    return Reply(result={"subdomain": subdomain})
