"""Validation messages in words, for every field of every spec and credentials model.

Generated from the registry: a new model, field or pattern is covered without an
entry here, and a pattern without words in ``PATTERN_WORDS`` fails.
"""

from __future__ import annotations

import re

import pytest

from provisioning.engine.errors import SpecError
from provisioning.registry import get_registry
from stackdock.utils.messages import PATTERN_WORDS, error_words

REGISTRY = get_registry()
MODELS = {
    f"{provider}/{name}": model
    for provider in REGISTRY.providers()
    for name, model in [
        ("credentials", REGISTRY.adapter_class(provider).credentials_model),
        *[(t, r.spec_model) for t, r in REGISTRY.adapter_class(provider).resource_types.items()],
    ]
}
#: the validator's vocabulary, or a regular expression
LEAKS = re.compile(
    r"should|Input should|Value error|Extra inputs|Field required|valid (string|integer|"
    r"boolean|dictionary|list)|pattern|[\^$]|\\d|\[[a-z0-9]-"
)
BAD_VALUES = ["", "BAD VALUE!", "x" * 5000, -(10**12), 10**12, 1.5, True, [1], {"a": [1]}, None]


def _patterns(node):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_pattern_has_words_and_the_schema_publishes_them(name):
    schema = MODELS[name].model_json_schema()
    for pattern in _patterns(schema):
        assert pattern in PATTERN_WORDS, f"{name}: no words for the pattern {pattern!r}"
    assert '"x-rule"' in str(schema).replace("'", '"') or not list(_patterns(schema))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_bad_value_of_every_field_is_answered_in_words(name):
    model = MODELS[name]
    provider, _, rtype = name.partition("/")
    for field in model.model_fields:
        for bad in BAD_VALUES:
            body = {"zz_unknown": 1, field: bad}
            try:
                if rtype == "credentials":
                    model.model_validate(body)
                    continue
                REGISTRY.validate(provider, rtype, body, path="spec")
            except SpecError as exc:
                messages = [m for _, m in exc.errors]
            except Exception as exc:  # credentials: pydantic's own error
                messages = [error_words(e) for e in exc.errors(include_url=False)]  # type: ignore[attr-defined]
            else:
                continue
            for message in messages:
                assert message and not LEAKS.search(message), f"{name}.{field}={bad!r}: {message}"


def test_words_for_the_common_rules():
    assert error_words({"type": "string_too_long", "ctx": {"max_length": 63}}) == (
        "must be at most 63 characters long"
    )
    assert error_words({"type": "string_too_short", "ctx": {"min_length": 1}}) == (
        "must be at least 1 character long"
    )
    assert error_words({"type": "extra_forbidden"}) == "is not a field here"
    assert error_words({"type": "value_error", "msg": "Value error, must be lowercase"}) == (
        "must be lowercase"
    )
    assert error_words({"type": "literal_error", "ctx": {"expected": "'a' or 'b'"}}) == (
        "must be one of 'a' or 'b'"
    )
