"""``${resource.output}`` references inside resource properties.

A reference that is a property's whole value (``"${db.port}"``) is replaced
by the output as is (any JSON type); one embedded in a longer string
(``"${db.name}-web"``) is interpolated as text (``null`` becomes ``""``,
lists and mappings become JSON). ``$${`` writes a literal ``${``.

Resolution never evaluates anything: it is a lookup in the outputs of
resources that already exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: ``$${...}`` (escaped) or ``${...}``
_TOKEN = re.compile(r"(\$\$|\$)\{([^{}]*)\}")
_REF_BODY = re.compile(r"^\s*([a-z][a-z0-9_-]{0,62})\.([A-Za-z_][A-Za-z0-9_]*)\s*$")
#: Deepest nesting walked inside properties (documents are data, not code).
MAX_DEPTH = 64


class _Unknown:
    """A value that will only be known after apply (plans only)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
KNOWN_AFTER_APPLY = "(known after apply)"


@dataclass(frozen=True, slots=True)
class Reference:
    """``${resource.attr}`` found at ``path`` (dotted, relative to properties)."""

    resource: str
    attr: str
    path: str


@dataclass(frozen=True, slots=True)
class BadReference:
    """Text inside ``${...}`` that is not ``resource.output``."""

    text: str
    path: str


def has_reference_syntax(value: str) -> bool:
    return "${" in value


def scan(value: Any, path: str = "") -> Iterator[Reference | BadReference]:
    """Every reference (and malformed one) in a properties value, in order."""
    yield from _scan(value, path, 0)


def _scan(value: Any, path: str, depth: int) -> Iterator[Reference | BadReference]:
    if depth > MAX_DEPTH:
        yield BadReference("(nested too deeply)", path)
        return
    if isinstance(value, str):
        if "${" not in value:
            return
        for match in _TOKEN.finditer(value):
            if match.group(1) == "$$":
                continue
            body = _REF_BODY.match(match.group(2))
            if body is None:
                yield BadReference(match.group(0), path)
            else:
                yield Reference(body.group(1), body.group(2), path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _scan(item, _sub(path, key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _scan(item, _sub(path, index), depth + 1)


def _sub(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


Lookup = Callable[[str, str], Any]


def resolve(value: Any, lookup: Lookup) -> Any:
    """``value`` with every reference replaced by ``lookup(resource, attr)``.

    ``lookup`` may return ``UNKNOWN``: a whole-value reference then becomes
    ``UNKNOWN``, and so does any string embedding one.
    """
    if isinstance(value, str):
        if "${" not in value:
            return value
        return _resolve_string(value, lookup)
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(item, lookup) for item in value]
    return value


def _resolve_string(text: str, lookup: Lookup) -> Any:
    whole = _TOKEN.fullmatch(text)
    if whole is not None and whole.group(1) == "$":
        body = _REF_BODY.match(whole.group(2))
        if body is not None:
            return lookup(body.group(1), body.group(2))
    unknown = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal unknown
        if match.group(1) == "$$":
            return "${" + match.group(2) + "}"
        body = _REF_BODY.match(match.group(2))
        if body is None:  # rejected by the parser; keep the text as written
            return match.group(0)
        found = lookup(body.group(1), body.group(2))
        if found is UNKNOWN:
            unknown = True
            return ""
        return _as_text(found)

    out = _TOKEN.sub(substitute, text)
    return UNKNOWN if unknown else out


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


def display(value: Any) -> Any:
    """``value`` with ``UNKNOWN`` shown as ``"(known after apply)"``."""
    if value is UNKNOWN:
        return KNOWN_AFTER_APPLY
    if isinstance(value, dict):
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [display(v) for v in value]
    return value
