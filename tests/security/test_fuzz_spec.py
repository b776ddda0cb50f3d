"""Fuzzing the stack spec parser: whatever a user pastes, it answers with a StackSpec or a
``SpecError`` (``CycleError`` and ``UnknownProvider`` are ``SpecError`` too) - never another
exception, never a hang, never a crash of the process.

The documents come from hypothesis: random text and bytes, random nested structures
(given as mappings, as JSON and as YAML text), YAML assembled from its trickiest
pieces (anchors, aliases, merge keys, tags, several documents), near-valid stacks that
reach the deep checks (references, cycles, pydantic validation), and deep nesting, which
is what crashes libyaml when it reaches the loader. Pure Python: no database.

Values that do not fit their YAML tag (``!!int abc``, ``!!bool maybe``, an empty
``!!int``) and integers longer than Python converts once escaped as ValueError,
KeyError or IndexError (a 500 from the API); the tests at the end keep them SpecErrors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docks.adapters.aws import AwsAdapter
from docks.adapters.cloudflare import CloudflareAdapter
from docks.adapters.sandbox import SandboxAdapter
from provisioning.engine.errors import SpecError
from provisioning.engine.registry import Registry
from provisioning.engine.spec import StackSpec, load_document, parse_stack

DOCKS: dict[str | int, str] = {"sandbox": "sandbox", "aws": "aws", "cf": "cloudflare", 7: "sandbox"}
FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    for adapter in (SandboxAdapter, AwsAdapter, CloudflareAdapter):
        reg.register(adapter)
    return reg


def parse_or_spec_error(doc: Any, registry: Registry) -> StackSpec | SpecError:
    """Parse; a SpecError is a fine answer (returned), anything else propagates and fails."""
    try:
        stack = parse_stack(doc, registry=registry, dock_provider=DOCKS.__getitem__)
    except SpecError as exc:
        assert exc.errors, "a SpecError names at least one problem"
        for path, message in exc.errors:
            assert isinstance(path, str) and isinstance(message, str) and message
        assert str(exc)
        return exc
    assert isinstance(stack, StackSpec)
    return stack


# --- strategies ----------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
keys = st.text(max_size=12) | st.sampled_from(
    ["name", "resources", "dock", "type", "properties", "depends_on", "deletion_policy"]
)
nested = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)

# the pieces of YAML most likely to confuse a loader
YAML_PIECES = [
    "name: s\n",
    "resources:\n",
    "  a:\n",
    "    dock: sandbox\n",
    "    type: server\n",
    "    properties: {name: x}\n",
    "    depends_on: [b]\n",
    "- \n",
    "? ",
    ": ",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!python/object/apply:os.system ['true']\n",
    "!!binary aGVsbG8=\n",
    "!!set {a, b}\n",
    "!!timestamp 2001-12-14\n",
    "!custom x\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "|\n  block\n",
    ">-\n  folded\n",
    "'quoted''s'",
    '"\\u0000\\x00"',
    "[a, {b: c}]",
    "{a: [1, 2]}",
    "\t",
    "# comment\n",
    "${a.name}",
    "\ufeff",
    "\x00",
    "\u2028",
]
yaml_texts = st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=8), max_size=25).map("".join)

resource_names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True) | st.text(max_size=6)
reference = st.builds(
    lambda r, attr: f"${{{r}.{attr}}}", resource_names, st.sampled_from(["id", "name", "arn", ""])
)
property_values = st.recursive(
    scalars | reference | st.builds(lambda a, b: f"{a}-{b}", reference, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)
resource_bodies = st.fixed_dictionaries(
    {},
    optional={
        "dock": st.sampled_from(["sandbox", "aws", "cf", 7, "nowhere", 3.5, None])
        | st.text(max_size=5),
        "type": st.sampled_from(
            ["server", "bucket", "database", "s3-bucket", "rds-instance", "r2-bucket", "dns-record"]
        )
        | st.text(max_size=8),
        "properties": st.dictionaries(
            st.sampled_from(["name", "size", "latency_ms", "fail", "engine", "zone"])
            | st.text(max_size=6),
            property_values,
            max_size=4,
        )
        | nested,
        "depends_on": st.lists(resource_names, max_size=3) | nested,
        "deletion_policy": st.sampled_from(["delete", "retain", "keep"]) | nested,
    },
)
stacks = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,20}", fullmatch=True) | nested,
        "resources": st.dictionaries(resource_names, resource_bodies, max_size=5) | nested,
    },
    optional={"description": st.text(max_size=20) | nested},
)


# --- the properties ------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=400))
def test_random_text_yields_a_stack_or_a_spec_error(registry, text):
    parse_or_spec_error(text, registry)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_yield_a_stack_or_a_spec_error(registry, data):
    parse_or_spec_error(data, registry)


@FUZZ
@given(nested)
def test_random_structures_yield_a_stack_or_a_spec_error_as_mapping_json_and_yaml(registry, value):
    if isinstance(value, Mapping):
        parse_or_spec_error(value, registry)
    try:
        as_json = json.dumps(value)
    except ValueError:
        as_json = None
    if as_json is not None:
        parse_or_spec_error(as_json, registry)
    parse_or_spec_error(yaml.safe_dump(value), registry)


@FUZZ
@given(yaml_texts)
def test_random_yaml_yields_a_stack_or_a_spec_error(registry, text):
    result = parse_or_spec_error(text, registry)
    if "!!python" in text:  # the safe loader never builds Python objects
        assert isinstance(result, SpecError)


@FUZZ
@given(stacks)
def test_near_valid_stacks_yield_a_stack_or_a_spec_error(registry, doc):
    parse_or_spec_error(doc, registry)
    parse_or_spec_error(yaml.safe_dump(doc, sort_keys=False), registry)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=60, max_value=20_000),
    st.sampled_from(["[", "{a: ", '{"a":', "- ", "a:\n", "[{b: "]),
    st.booleans(),
)
def test_deep_nesting_is_refused_without_crashing(registry, depth, opener, closed):
    """libyaml segfaults on very deep documents: they must be refused before loading."""
    if opener == "a:\n":
        text = "".join(" " * i + "a:\n" for i in range(depth))
    elif opener == "- ":
        text = "".join(" " * (2 * i) + "-\n" for i in range(depth))
    else:
        closer = {"[": "]", "{a: ": "}", '{"a":': "}", "[{b: ": "}]"}[opener]
        text = opener * depth + ("1" + closer * depth if closed else "")
    result = parse_or_spec_error(text, registry)
    assert isinstance(result, SpecError)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_load_document_alone_raises_nothing_but_spec_error(text):
    try:
        load_document(text)
    except SpecError:
        pass


@pytest.mark.parametrize(
    "text",
    [
        "!!int abc",
        "name: !!timestamp x",
        "a: 2020-13-45",
        "!!float abc",
        "name: !!bool maybe",
        "a: !!int",
        "a: !!float",
        "a: !!int +",
        "n: " + "9" * 5000,
        '{"name": ' + "9" * 5000 + "}",
    ],
    ids=[
        "int",
        "timestamp",
        "bad-date",
        "float",
        "bool",
        "empty-int",
        "empty-float",
        "sign-only-int",
        "long-int-yaml",
        "long-int-json",
    ],
)
def test_values_that_do_not_fit_their_type_are_a_spec_error(registry, text):
    """PyYAML's constructors and json fail with ValueError, AttributeError, KeyError or
    IndexError on these; the parser answers a SpecError (a 400, not a 500)."""
    with pytest.raises(SpecError):
        parse_stack(text, registry=registry, dock_provider=DOCKS.__getitem__)


def test_a_valid_document_still_parses(registry):
    """The harness can tell success from failure: a good stack comes back as a StackSpec."""
    doc = (
        "name: web\nresources:\n  db: {dock: sandbox, type: database, properties: {name: d}}\n"
        "  site:\n    dock: sandbox\n    type: web-service\n"
        "    properties: {name: '${db.name}-site'}\n"
    )
    stack = parse_or_spec_error(doc, registry)
    assert isinstance(stack, StackSpec)
    assert sorted(stack.resources) == ["db", "site"]
