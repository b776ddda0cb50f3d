"""Provider registry: provider name -> adapter class -> resource types.

The registry holds adapter *classes* (never instances: those carry a dock's
credentials and are built by the caller). Per resource type it knows the
pydantic spec model, so one schema drives API validation, forms, CLI flags
and docs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from docks.adapters.base import UNIVERSAL_TABLES, Adapter, ResourceType, SpecModel
from stackdock.utils.messages import error_words

from .errors import SpecError, UnknownProvider, UnknownResourceType


def join_path(*parts: object) -> str:
    """``join_path("resources", "web", "properties")`` -> ``resources.web.properties``."""
    return ".".join(str(p) for p in parts if p != "")


def pydantic_errors(exc: ValidationError, *, path: str = "") -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(path, message)`` pairs, the message in words
    (``stackdock.utils.messages``).

    Never the offending input: a rejected value may be a secret (the context used
    holds the rule's limits, patterns and allowed values, not the input).
    """
    return [
        (join_path(path, *err["loc"]), error_words(err))
        for err in exc.errors(include_url=False, include_input=False)
    ]


class Registry:
    """Which adapters exist and what resource types each one offers."""

    def __init__(self) -> None:
        self._adapters: dict[str, type[Adapter]] = {}

    def register(self, adapter_cls: type[Adapter]) -> type[Adapter]:
        """Add an adapter class (usable as a class decorator).

        Registering the same class twice is harmless; a different class for a
        provider already taken is a ``ValueError``.
        """
        _check_adapter(adapter_cls)
        existing = self._adapters.get(adapter_cls.provider)
        if existing is not None and existing is not adapter_cls:
            raise ValueError(
                f"provider {adapter_cls.provider!r} is already registered by {existing.__name__}"
            )
        self._adapters[adapter_cls.provider] = adapter_cls
        return adapter_cls

    def providers(self) -> list[str]:
        return sorted(self._adapters)

    def adapter_class(self, provider: str, *, path: str = "") -> type[Adapter]:
        try:
            return self._adapters[provider]
        except KeyError:
            raise UnknownProvider(provider, self._adapters, path=path) from None

    def resource_type(self, provider: str, type_name: str, *, path: str = "") -> ResourceType:
        types = self.adapter_class(provider, path=path).resource_types
        try:
            return types[type_name]
        except KeyError:
            raise UnknownResourceType(provider, type_name, types, path=path) from None

    def validate(
        self,
        provider: str,
        type_name: str,
        properties: Mapping[str, Any],
        *,
        path: str = "",
    ) -> SpecModel:
        """The validated spec model, or a SpecError with one full path per problem."""
        model = self.resource_type(provider, type_name).spec_model
        if not isinstance(properties, Mapping):
            raise SpecError([(path, "properties must be a mapping")])
        try:
            return model.model_validate(dict(properties))
        except ValidationError as exc:
            raise SpecError(pydantic_errors(exc, path=path)) from None

    def validate_partial(
        self,
        provider: str,
        type_name: str,
        properties: Mapping[str, Any],
        *,
        unknown: Collection[str],
        path: str = "",
    ) -> list[tuple[str, str]]:
        """Errors in the fields that are known, ignoring the ``unknown`` ones.

        Used while references (``${db.name}``) are not resolved yet: the
        top-level fields holding them are left out of validation; a
        "missing" error for such a field is not an error, but a field the
        model does not have is.
        """
        model = self.resource_type(provider, type_name).spec_model
        errors: list[tuple[str, str]] = []
        for name in unknown:
            if name not in model.model_fields:
                errors.append((join_path(path, name), error_words({"type": "extra_forbidden"})))
        known = {k: v for k, v in properties.items() if k not in unknown}
        try:
            model.model_validate(known)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                loc = err["loc"]
                if loc and loc[0] in unknown:
                    continue
                errors.append((join_path(path, *loc), error_words(err)))
        return errors

    def normalize_known(
        self,
        provider: str,
        type_name: str,
        properties: Mapping[str, Any],
        *,
        unknown: Collection[str],
    ) -> dict[str, Any]:
        """Normalized values (as ``model_dump(mode="json")`` would give) of known fields.

        For plans whose inputs are partly "(known after apply)": each known
        field is validated on its own so it compares equal to what state holds.
        Call only after ``validate_partial`` found no error.
        """
        model = self.resource_type(provider, type_name).spec_model
        validator = model.__pydantic_validator__
        out: dict[str, Any] = {}
        for name in model.model_fields:
            if name in unknown:
                continue
            instance = model.model_construct()
            if name in properties:
                validator.validate_assignment(instance, name, properties[name])
            out[name] = instance.model_dump(mode="json", include={name}).get(name)
        return out

    def json_schema(self, provider: str, type_name: str) -> dict[str, Any]:
        return self.resource_type(provider, type_name).spec_model.model_json_schema()


def _check_adapter(adapter_cls: type[Adapter]) -> None:
    """Reject an adapter class whose declarations are inconsistent."""
    if not (isinstance(adapter_cls, type) and issubclass(adapter_cls, Adapter)):
        raise TypeError(f"{adapter_cls!r} is not an Adapter subclass")
    provider = getattr(adapter_cls, "provider", "")
    if not provider:
        raise ValueError(f"{adapter_cls.__name__} declares no provider")
    problems: list[str] = []
    for key, rtype in adapter_cls.resource_types.items():
        problems.extend(_type_problems(key, rtype))
    if problems:
        raise ValueError(f"adapter {adapter_cls.__name__}: " + "; ".join(problems))


def _type_problems(key: str, rtype: ResourceType) -> Iterable[str]:
    if rtype.name != key:
        yield f"resource type {key!r} is declared under name {rtype.name!r}"
    if rtype.table is not None and rtype.table not in UNIVERSAL_TABLES:
        yield f"resource type {key!r} fills unknown table {rtype.table!r}"
    if not issubclass(rtype.spec_model, SpecModel):
        yield f"resource type {key!r} spec model is not a SpecModel"
        return
    fields = rtype.spec_model.model_fields
    for attr in ("replace_fields", "secret_fields"):
        for name in getattr(rtype, attr):
            if name not in fields:
                yield f"resource type {key!r} {attr} names unknown field {name!r}"


#: A process-wide default; the orchestrator always takes a registry argument.
registry = Registry()
