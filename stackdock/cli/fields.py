"""Field flags from a resource type's JSON Schema, and local validation against it.

``GET /api/v1/providers`` gives each resource type's spec as JSON Schema (from
the same pydantic model the server validates with). Each property becomes a
flag: ``name`` -> ``--name``, ``latency_ms`` -> ``--latency-ms`` (or
``--latency_ms``); ``--field=value`` works too.

- strings as given; ``@path`` reads a file's content into any string field, and
  a *file field* (``script``, ``source``, ``code``, ``user_data``, or a property
  marked ``"x-stackdock-file": true`` / ``contentMediaType``) takes a path
  (``--script ./worker.js``) and sends the file's content;
- integers and numbers parsed; booleans as ``--flag`` / ``--no-flag`` /
  ``--flag true|false``;
- arrays by repeating the flag (``--values a --values b``) or as JSON (``'["a"]'``);
- objects as repeated ``key=value`` (``--tags env=prod --tags team=web``) or JSON.

Validation runs ``jsonschema`` against the schema; every problem is reported
by field path (``spec.name``) and flag, never with the value of a secret field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from stackdock.cli.errors import CliError, usage

#: string properties that take a file path whose content is sent
FILE_FIELD_NAMES = frozenset({"script", "source", "code", "user_data"})
#: suffixes that make a value of a file field clearly a path (so a missing file is an error)
_PATH_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".wasm", ".py", ".sh", ".txt", ".json", ".yaml")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Field:
    """One spec property, with its schema resolved (``$ref``, ``anyOf [X, null]``)."""

    name: str
    schema: Mapping[str, Any]
    kind: str  # string | integer | number | boolean | array | object | any
    required: bool
    nullable: bool
    secret: bool
    is_file: bool

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def description(self) -> str:
        return str(self.schema.get("description") or "")

    @property
    def enum(self) -> list[Any] | None:
        values = self.schema.get("enum")
        return list(values) if isinstance(values, list) else None

    @property
    def type_label(self) -> str:
        if self.enum:
            return "|".join(str(v) for v in self.enum)
        if self.kind == "array":
            items = self.schema.get("items") or {}
            return f"list of {items.get('type', 'any')}"
        if self.kind == "object":
            return "key=value ..."
        return "file" if self.is_file else self.kind


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``) and a single-item ``allOf``."""
    for _ in range(10):  # bounded: a ref chain, never a loop
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            schema = {**all_of[0], **{k: v for k, v in schema.items() if k != "allOf"}}
            continue
        break
    return schema


def _is_secret(schema: Mapping[str, Any]) -> bool:
    return bool(
        schema.get("secret") or schema.get("writeOnly") or schema.get("format") == "password"
    )


def describe(name: str, prop: Mapping[str, Any], root: Mapping[str, Any], required: bool) -> Field:
    prop = _resolve(prop, root)
    secret = _is_secret(prop)
    nullable = False
    variants = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(variants, list):
        resolved = [_resolve(v, root) for v in variants if isinstance(v, Mapping)]
        non_null = [v for v in resolved if v.get("type") != "null"]
        nullable = len(non_null) < len(resolved)
        if len(non_null) == 1:
            extra = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
            prop = {**non_null[0], **extra}
            secret = secret or _is_secret(prop)
    kind = prop.get("type") if isinstance(prop.get("type"), str) else "any"
    if "enum" in prop and kind == "any":
        kind = "string"
    is_file = kind == "string" and (
        name in FILE_FIELD_NAMES or bool(prop.get("x-stackdock-file")) or "contentMediaType" in prop
    )
    return Field(name, prop, str(kind), required, nullable, secret, is_file)


def fields_of(schema: Mapping[str, Any]) -> dict[str, Field]:
    """The schema's top-level properties as fields, in schema order."""
    required = set(schema.get("required") or ())
    props = schema.get("properties") or {}
    return {
        name: describe(name, prop, schema, name in required)
        for name, prop in props.items()
        if isinstance(prop, Mapping)
    }


# --- flags -> spec -------------------------------------------------------------------------
def _lookup(fields: Mapping[str, Field], flag_name: str) -> Field | None:
    key = flag_name.replace("-", "_")
    if key in fields:
        return fields[key]
    return next((f for f in fields.values() if f.name.replace("_", "-") == flag_name), None)


def _unknown(flag: str, fields: Mapping[str, Field], what: str) -> CliError:
    valid = ", ".join(f.flag for f in fields.values()) or "(none)"
    return usage(
        f"Unknown field {flag} for {what}; valid fields: {valid}.",
        fields={f"spec.{flag.lstrip('-')}": ["unknown field"]},
    )


def parse_field_args(
    args: Sequence[str], fields: Mapping[str, Field], *, what: str, base_dir: Path | None = None
) -> dict[str, Any]:
    """``["--name", "x", "--versioning"]`` -> ``{"name": "x", "versioning": True}``."""
    base_dir = base_dir or Path.cwd()
    spec: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("--") or arg == "--":
            raise usage(
                f"Unexpected argument {arg!r}: fields are given as --FIELD VALUE "
                f"(see `stackdock providers` for {what})."
            )
        flag_name, has_inline, inline = arg[2:].partition("=")
        field = _lookup(fields, flag_name)
        negated = False
        if field is None and flag_name.startswith("no-"):
            candidate = _lookup(fields, flag_name[3:])
            if candidate is not None and candidate.kind == "boolean" and not has_inline:
                field, negated = candidate, True
        if field is None:
            raise _unknown("--" + flag_name, fields, what)

        if field.kind == "boolean":
            if negated:
                raw: str | bool = False
            elif has_inline:
                raw = inline
            elif i < len(args) and args[i].lower() in _TRUE | _FALSE:
                raw = args[i]
                i += 1
            else:
                raw = True
        elif has_inline:
            raw = inline
        elif i < len(args) and not args[i].startswith("--"):
            raw = args[i]
            i += 1
        else:
            raise usage(
                f"{field.flag} needs a value ({field.type_label}).",
                fields={f"spec.{field.name}": ["a value is required after the flag"]},
            )

        value = coerce(field, raw, base_dir=base_dir)
        whole_json = isinstance(raw, str) and raw.lstrip().startswith(("[", "{"))
        if field.kind == "array" and not whole_json:
            spec.setdefault(field.name, []).extend(value)  # repeated flag: one more item
        elif field.kind == "array":
            spec[field.name] = value
        elif field.kind == "object" and isinstance(value, dict) and field.name in spec:
            spec[field.name] = {**spec[field.name], **value}
        elif field.name in spec:
            raise usage(
                f"{field.flag} was given twice.",
                fields={f"spec.{field.name}": ["given twice"]},
            )
        else:
            spec[field.name] = value
    return spec


def _bad(field: Field, reason: str) -> CliError:
    return usage(f"{field.flag}: {reason}.", fields={f"spec.{field.name}": [reason]})


def read_text_file(path: Path, field: Field) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _bad(field, f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _bad(field, f"no such file: {path}") from None
    except IsADirectoryError:
        raise _bad(field, f"{path} is a directory") from None
    except UnicodeDecodeError:
        raise _bad(field, f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise _bad(field, f"cannot read {path}: {exc.strerror}") from None


def _looks_like_path(value: str) -> bool:
    if "\n" in value or " " in value.strip():
        return False
    return "/" in value or value.endswith(_PATH_SUFFIXES)


def coerce(field: Field, raw: str | bool, *, base_dir: Path) -> Any:
    """One flag value as the JSON type the schema wants (exit 2 when it cannot be)."""
    if isinstance(raw, bool):
        return raw
    kind = field.kind
    if kind == "string":
        if raw.startswith("@") and len(raw) > 1:
            return read_text_file(base_dir / raw[1:], field)
        if field.is_file:
            path = base_dir / raw
            if path.is_file() or _looks_like_path(raw):
                return read_text_file(path, field)
        return raw
    if kind == "integer":
        try:
            return int(raw, 10)
        except ValueError:
            raise _bad(field, f"expected an integer, got {_shown(field, raw)}") from None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise _bad(field, f"expected a number, got {_shown(field, raw)}") from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _bad(field, f"expected true or false, got {_shown(field, raw)}")
    if kind == "array":
        if raw.lstrip().startswith("["):
            return _json_value(field, raw, list)
        item = describe(field.name, field.schema.get("items") or {}, {}, False)
        item = replace(item, secret=field.secret, is_file=False)
        return [coerce(item, raw, base_dir=base_dir)]
    if kind == "object":
        if raw.lstrip().startswith("{"):
            return _json_value(field, raw, dict)
        key, eq, value = raw.partition("=")
        if not eq or not key:
            raise _bad(field, "expected key=value (repeat the flag for more) or a JSON object")
        return {key: value}
    # no declared type: JSON when it parses, else the text
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _json_value(field: Field, raw: str, expected: type) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        raise _bad(field, "invalid JSON") from None
    if not isinstance(value, expected):
        raise _bad(field, f"expected a JSON {'array' if expected is list else 'object'}")
    return value


def _shown(field: Field, raw: str) -> str:
    return "a hidden value" if field.secret else repr(raw)


# --- spec files ----------------------------------------------------------------------------
def load_spec_file(path: Path, *, flag: str = "--spec") -> dict[str, Any]:
    """A ``--spec`` (or credentials) file: a YAML (or JSON) mapping of field values."""
    key = flag.lstrip("-")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise usage(f"{flag}: no such file: {path}", fields={key: ["file not found"]}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(f"{flag}: cannot read {path}: {exc}", fields={key: ["unreadable"]}) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark else ""
        raise usage(
            f"{flag}: {path} is not valid YAML{where}: {exc.problem}",
            fields={key: ["invalid YAML"]},
        ) from None
    except yaml.YAMLError:
        raise usage(f"{flag}: {path} is not valid YAML", fields={key: ["invalid YAML"]}) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise usage(
            f"{flag}: {path} must hold a mapping of field: value",
            fields={key: ["expected a mapping"]},
        )
    if isinstance(data.get("spec"), dict) and set(data) <= {"spec", "dock", "resource_type"}:
        data = data["spec"]  # the API's own body shape is accepted too
    return data


# --- validation ----------------------------------------------------------------------------
def _message(error: SchemaError, field: Field | None) -> str:
    """The rule in words, as the server words it; never a secret's value.

    A pattern's words come from the server's schema (``x-rule``); without them the
    message says the value is not in the field's form, never the regular expression.
    """
    fallback = "is not valid" if field is not None and field.secret else error.message
    if error.validator == "pattern":
        rule = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
        return f"must be {rule}" if rule else "is not in the form this field takes"
    return schema_words(str(error.validator), error.validator_value, fallback)


def _items(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def schema_words(validator: str, value: Any, message: str) -> str:
    """One JSON Schema error (the failing keyword and its value) in words, as the server
    words pydantic's (stackdock/utils/messages.py)."""
    if validator == "minLength":
        return f"must be at least {_items(value, 'character', 'characters')} long"
    if validator == "maxLength":
        return f"must be at most {_items(value, 'character', 'characters')} long"
    if validator == "minItems":
        return f"must have at least {_items(value, 'item', 'items')}"
    if validator == "maxItems":
        return f"must have at most {_items(value, 'item', 'items')}"
    if validator == "minimum":
        return f"must be at least {value}"
    if validator == "maximum":
        return f"must be at most {value}"
    if validator == "exclusiveMinimum":
        return f"must be more than {value}"
    if validator == "exclusiveMaximum":
        return f"must be less than {value}"
    if validator == "type":
        names = {
            "string": "text",
            "integer": "a whole number",
            "number": "a number",
            "boolean": "true or false",
            "object": "a mapping of names to values",
            "array": "a list",
        }
        wanted = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(names.get(str(w), str(w)) for w in wanted if w != "null")
    if validator in ("enum", "const"):
        options = [repr(o) for o in (value if isinstance(value, list) else [value])]
        listed = options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"
        return f"must be one of {listed}"
    if validator == "required":
        return "required"
    if validator == "additionalProperties":
        return "is not a field here"
    return message


def validate_spec(
    spec: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    what: str,
    partial: bool = False,
    prefix: str = "spec",
) -> None:
    """Raise an exit-2 CliError naming every invalid field.

    Each field is checked against its own resolved schema (so an optional
    ``anyOf [X, null]`` field reports X's problem, not "not valid under any of
    the given schemas"); ``partial`` (updates) skips the required check.
    """
    fields = fields_of(schema)
    problems: dict[str, list[str]] = {}
    if not partial:
        for required in fields.values():
            if required.required and required.name not in spec:
                problems[f"{prefix}.{required.name}"] = ["required"]
    unknown = [name for name in spec if name not in fields]
    for name in unknown:
        problems.setdefault(f"{prefix}.{name}", []).append("is not a field here")
    for name, value in spec.items():
        field = fields.get(name)
        if field is None or (value is None and field.nullable):
            continue
        validator = Draft202012Validator({**_defs(schema), **field.schema})
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            path = ".".join([prefix, name, *(str(p) for p in error.absolute_path)])
            problems.setdefault(path, []).append(_message(error, field))
    if not problems:
        return
    first_path, first_messages = next(iter(problems.items()))
    flag = _flag_of(first_path, fields)
    hint = ""
    if unknown:
        hint = "Valid fields: " + ", ".join(f.flag for f in fields.values()) + "."
    raise usage(
        f"Invalid {prefix} for {what}: {flag}: {first_messages[0]}.", fields=problems, hint=hint
    )


def _defs(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in ("$defs", "definitions") if k in schema}


def _flag_of(path: str, fields: Mapping[str, Field]) -> str:
    parts = path.split(".")
    name = parts[1] if len(parts) > 1 else path
    field = fields.get(name)
    return field.flag if field else "--" + name.replace("_", "-")
