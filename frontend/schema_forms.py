"""Django forms generated from a pydantic model's JSON schema.

One schema drives API validation and these forms: the form only picks the
right widget and turns what the browser sends back into plain values. It
validates nothing the model does not: the service validates with the model
and the form shows the errors the server returns, beside the right input.

Widgets by schema: ``integer``/``number`` -> number input, ``boolean`` ->
checkbox, ``enum`` (a ``Literal``) -> select, a long text (``script`` or
``json_schema_extra={"widget": "textarea"}``) -> textarea, an object of
strings (tags) -> ``key=value`` lines, a list of strings -> one per line,
anything else -> a JSON textarea. Secret fields (``{"secret": true}`` or a
``SecretStr``) are write-only password inputs that never render a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from pydantic import BaseModel

#: field names always edited in a textarea
TEXTAREA_NAMES = frozenset({"script", "source", "body", "content_long"})
#: strings longer than this get a textarea
LONG_TEXT = 1000


class KeyValueField(forms.Field):
    """``key=value`` lines <-> a dict of strings (e.g. tags)."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "team=web\nenv=prod"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return "\n".join(f"{k}={v}" for k, v in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        text = str(value or "")
        out: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            if "=" not in line:
                raise forms.ValidationError(f"line {number}: write key=value")
            key, _, val = line.partition("=")
            if not key.strip():
                raise forms.ValidationError(f"line {number}: the key is empty")
            out[key.strip()] = val.strip()
        return out


class LinesField(forms.Field):
    """One value per line (commas also separate) <-> a list of strings."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = str(value or "")
        return [
            part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()
        ]


class JsonField(forms.Field):
    """Any other structured value, written as JSON."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, indent=2)

    def to_python(self, value: Any) -> Any:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg}") from None


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and unwrap ``anyOf: [X, null]`` (an optional X)."""
    out = dict(schema)
    ref = out.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out = {**root.get("$defs", {}).get(ref.split("/")[-1], {}), **out}
    options = out.get("anyOf")
    if isinstance(options, list):
        concrete = [o for o in options if o.get("type") != "null"]
        if len(concrete) == 1:
            out = {**{k: v for k, v in out.items() if k != "anyOf"}, **_resolve(concrete[0], root)}
            out["nullable"] = True
    return out


def _secret_fields(model: type[BaseModel]) -> frozenset[str]:
    out = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("secret") or "SecretStr" in repr(info.annotation):
            out.add(name)
    return frozenset(out)


def _default(model: type[BaseModel], name: str) -> Any:
    """The model's default for a field, or None when it has none (a required field).

    pydantic marks "no default" with ``PydanticUndefined``, an object whose text must
    never reach a form as if it were a value.
    """
    info = model.model_fields[name]
    if info.is_required():
        return None
    return info.get_default(call_default_factory=True)


def build_field(
    name: str, prop: Mapping[str, Any], *, required: bool, secret: bool, default: Any
) -> forms.Field:
    """One form field for one schema property."""
    label = prop.get("title") or name.replace("_", " ").capitalize()
    help_text = prop.get("description", "")
    common: dict[str, Any] = {"label": label, "help_text": help_text, "required": required}
    kind = prop.get("type")
    enum = prop.get("enum")
    if secret:
        return forms.CharField(
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            strip=True,
            **common,
        )
    if enum:
        choices = [(str(v), str(v)) for v in enum]
        if not required:
            choices = [("", "(default)" if default is None else f"(default: {default})"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    if kind == "boolean":
        common["required"] = False
        return forms.BooleanField(initial=bool(default), **common)
    if kind in ("integer", "number"):
        limits = {
            "min_value": prop.get("minimum", prop.get("exclusiveMinimum")),
            "max_value": prop.get("maximum", prop.get("exclusiveMaximum")),
        }
        limits = {k: v for k, v in limits.items() if v is not None}
        cls = forms.IntegerField if kind == "integer" else forms.FloatField
        # The model has the last word on the range: keep the hints, not the checks.
        field = cls(**common)
        for key, value in limits.items():
            field.widget.attrs["min" if key == "min_value" else "max"] = value
        return field
    if kind == "object" and prop.get("additionalProperties", {}).get("type") == "string":
        common["help_text"] = f"{help_text} One key=value per line.".strip()
        return KeyValueField(**common)
    if kind == "array" and prop.get("items", {}).get("type") == "string":
        common["help_text"] = f"{help_text} One per line.".strip()
        return LinesField(**common)
    if kind == "string":
        long_text = (
            name in TEXTAREA_NAMES
            or prop.get("widget") == "textarea"
            or prop.get("x-stackdock-file")
            or (prop.get("maxLength") or 0) > LONG_TEXT
        )
        widget = (
            forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"})
            if long_text
            else forms.TextInput()
        )
        return forms.CharField(widget=widget, strip=not long_text, **common)
    common["help_text"] = f"{help_text} JSON.".strip()
    return JsonField(**common)


class SchemaForm(forms.Form):
    """A form whose fields come from a pydantic model (see the module docstring)."""

    model: type[BaseModel]
    #: fields whose value is sent even when empty (everything else is left out,
    #: so the model's default applies)
    required_names: frozenset[str] = frozenset()
    secret_names: frozenset[str] = frozenset()

    def __init__(
        self,
        *args: Any,
        model: type[BaseModel],
        exclude: Iterable[str] = (),
        prefix_fields: Mapping[str, forms.Field] | None = None,
        secret_fields: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        self.required_names = frozenset(required)
        self.secret_names = _secret_fields(model) | frozenset(secret_fields)
        for name, field in (prefix_fields or {}).items():
            self.fields[name] = field
        self.spec_names: list[str] = []
        for name, raw in schema.get("properties", {}).items():
            if name in exclude:
                continue
            prop = _resolve(raw, schema)
            default = _default(model, name) if name in model.model_fields else None
            field = build_field(
                name,
                prop,
                required=name in required,
                secret=name in self.secret_names,
                default=default,
            )
            if default is not None and name not in self.secret_names and not self.is_bound:
                field.initial = default
            if name in required:
                field.widget.attrs["aria-required"] = "true"
            self.fields[name] = field
            self.spec_names.append(name)

    def spec_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.spec_names]

    def extra_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.spec_names]

    def spec_values(self) -> dict[str, Any]:
        """What to send to the service: empty optional values are left out (defaults apply)."""
        out: dict[str, Any] = {}
        for name in self.spec_names:
            value = self.cleaned_data.get(name)
            if isinstance(self.fields[name], forms.BooleanField):
                out[name] = bool(value)
            elif name in self.secret_names and not value:
                continue  # an empty secret is "not given" (on an update: keep the stored one)
            elif value in (None, "", [], {}) and name not in self.required_names:
                continue
            elif value is None:
                continue
            else:
                out[name] = value
        return out

    def add_server_errors(self, fields: Mapping[str, list[str]], *, prefix: str = "") -> None:
        """Put a service's ``ValidationError.fields`` beside the inputs they name.

        ``spec.name`` -> the ``name`` input; ``spec.values.0`` -> ``values``; a
        path naming no input (or the whole spec) becomes a form-wide error.
        """
        for path, messages in fields.items():
            if path in ("__all__", "non_field_errors"):  # Django's and DRF's "the whole form"
                path = ""
            name = path[len(prefix) :] if prefix and path.startswith(prefix) else path
            head, _, rest = name.partition(".")
            target = head if head in self.fields else None
            for raw in messages:
                message = raw.removeprefix("Value error, ")  # pydantic's prefix for validators
                text = f"{rest}: {message}" if target and rest else message
                if target is None and path not in ("", prefix.rstrip(".")):
                    text = f"{path}: {message}"
                self.add_error(target, text)
