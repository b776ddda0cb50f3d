"""Validation messages in a person's words: the rule a value broke, not the validator.

Invariant: a validation message never shows the library's vocabulary ("String should
match pattern", "Value error,", "Extra inputs are not permitted", "Input should be a
valid ...") nor a regular expression; it says the rule (``must be at most 63
characters long``, ``must be lowercase letters, digits, dots and hyphens, starting
with a letter or digit``). The path it belongs to (``spec.name``) is added by the
caller. Every pattern a spec or credentials model declares has words in
``PATTERN_WORDS`` (tests/stackdock/test_messages.py fails for one that has none).

Pure Python, used by the engine's registry for every pydantic error. The JSON
Schemas the API publishes carry each pattern's words as ``x-rule`` (``rule_words``,
the spec and credentials models' ``json_schema_extra``), so the CLI, which checks a
spec locally before sending it, says the same words against any server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: a field's regular expression -> what it asks for, in words
PATTERN_WORDS: dict[str, str] = {
    r"^[a-z0-9][a-z0-9.-]*$": (
        "lowercase letters, digits, dots and hyphens, starting with a letter or digit"
    ),
    r"^A[KS]IA[A-Z0-9]{12,124}$": (
        "an AWS access key id: AKIA (or ASIA) followed by capital letters and digits"
    ),
    r"^ami-[0-9a-f]{8,17}$": "an AMI id: ami- and 8 to 17 hex digits, e.g. ami-0abcdef1234567890",
    r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$": "an instance type such as t3.micro",
    r"^\d+(\.\d+){0,3}$": "a version number such as 16 or 16.4",
    r"^db\.[a-z0-9-]+\.[a-z0-9-]+$": "an instance class such as db.t3.micro",
    r"^[a-zA-Z](-?[a-zA-Z0-9])*$": (
        "letters, digits and single hyphens, starting with a letter and not ending with a hyphen"
    ),
}

_PREFIXES = ("Value error, ", "Assertion failed, ")


def _items(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def pattern_words(pattern: str) -> str:
    words = PATTERN_WORDS.get(pattern)
    return f"must be {words}" if words else "is not in the form this field takes"


def error_words(error: Mapping[str, Any]) -> str:
    """One pydantic error (``exc.errors()`` item, with ``ctx``) in words."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    simple = {
        "missing": "required",
        "extra_forbidden": "is not a field here",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "dict_type": "must be a mapping of names to values",
        "list_type": "must be a list",
        "url_parsing": "must be a URL",
        "url_scheme": "must be an http or https URL",
        "none_required": "must be empty",
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_pattern_mismatch":
        return pattern_words(str(ctx.get("pattern", "")))
    if kind == "string_too_short":
        return f"must be at least {_items(ctx.get('min_length'), 'character', 'characters')} long"
    if kind == "string_too_long":
        return f"must be at most {_items(ctx.get('max_length'), 'character', 'characters')} long"
    if kind == "too_short":
        return f"must have at least {_items(ctx.get('min_length'), 'item', 'items')}"
    if kind == "too_long":
        return f"must have at most {_items(ctx.get('max_length'), 'item', 'items')}"
    limits = {
        "greater_than_equal": ("ge", "must be at least {}"),
        "greater_than": ("gt", "must be more than {}"),
        "less_than_equal": ("le", "must be at most {}"),
        "less_than": ("lt", "must be less than {}"),
    }
    if kind in limits:
        key, text = limits[kind]
        return text.format(ctx.get(key))
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}"
    message = str(error.get("msg", ""))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message


def rule_words(schema: dict[str, Any], *_: Any) -> None:
    """``json_schema_extra`` of the spec and credentials models: every ``pattern`` in
    the schema gets its words as ``x-rule``."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and pattern in PATTERN_WORDS:
                node["x-rule"] = PATTERN_WORDS[pattern]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
