from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.engine import (
    CycleError,
    SpecError,
    StackSpec,
    UnknownProvider,
    UnknownResourceType,
)
from provisioning.engine.references import UNKNOWN, resolve

from .conftest import doc, res


def paths(exc: SpecError) -> list[str]:
    return [path for path, _ in exc.errors]


def test_yaml_document_parses_with_references_and_dependencies(parse) -> None:
    stack: StackSpec = parse(
        """
name: my-stack
resources:
  db:
    dock: main
    type: database
    properties: {name: my-db}
  web:
    dock: 7
    type: web-service
    properties: {name: "${db.name}-web"}
    depends_on: [db]
    deletion_policy: retain
"""
    )
    assert stack.name == "my-stack"
    assert list(stack.resources) == ["db", "web"]
    web = stack.resources["web"]
    assert web.provider == "sandbox" and web.dock == 7
    assert web.deletion_policy == "retain"
    assert web.dependencies == ("db",)
    assert [(r.resource, r.attr, r.path) for r in web.references] == [("db", "name", "name")]


def test_json_text_and_dicts_are_accepted(parse) -> None:
    document = doc(a=res("bucket", name="a"))
    assert parse(json.dumps(document)).resources["a"].type == "bucket"
    assert parse(document).resources["a"].properties == {"name": "a"}


def test_yaml_syntax_error_names_the_line(parse) -> None:
    text = "name: s\nresources:\n  a:\n    dock: main\n    type: [unclosed\n"
    with pytest.raises(SpecError) as info:
        parse(text)
    assert str(info.value).startswith("invalid YAML at line 6, column 1:")


def test_json_syntax_error_names_the_line(parse) -> None:
    with pytest.raises(SpecError, match=r"invalid JSON at line 3"):
        parse('{\n "name": "s",\n "resources": {,}\n}')


def test_validation_errors_in_yaml_carry_the_line_of_the_field(parse) -> None:
    text = (
        "name: s\n"
        "resources:\n"
        "  web:\n"
        "    dock: main\n"
        "    type: bucket\n"
        "    properties:\n"
        "      name: BAD_NAME\n"
    )
    with pytest.raises(SpecError) as info:
        parse(text + "  x: {dock: nope, type: bucket}\n")
    assert info.value.errors == [
        (
            "resources.web.properties.name",
            "must be lowercase letters, digits, dots and hyphens, starting with a letter or digit"
            " (line 7)",
        ),
        ("resources.x.dock", "unknown dock 'nope' (line 8)"),
    ]


def test_duplicate_yaml_keys_are_rejected_with_their_line(parse) -> None:
    text = (
        "name: s\nresources:\n"
        "  a: {dock: main, type: bucket, properties: {name: a}}\n"
        "  a: {dock: main, type: bucket, properties: {name: b}}\n"
    )
    with pytest.raises(SpecError, match=r"duplicate key 'a' \(line 4\)"):
        parse(text)


def test_all_errors_are_collected_with_exact_paths(parse) -> None:
    document: dict[str, Any] = {
        "name": "s",
        "extra": 1,
        "resources": {
            "Bad Name": {"dock": "main", "type": "bucket"},
            "web": {
                "dock": "main",
                "type": "bucket",
                "properties": {"name": "UPPER", "nope": 1, "latency_ms": -1},
                "depends_on": ["ghost"],
                "deletion_policy": "keep",
                "colour": "red",
            },
            "db": {"dock": "nowhere", "type": "bucket", "properties": {"name": "x"}},
            "q": {"dock": "main", "type": "queue"},
        },
    }
    with pytest.raises(SpecError) as info:
        parse(document)
    found = paths(info.value)
    assert set(found) >= {
        "extra",
        "resources.Bad Name",
        "resources.web.colour",
        "resources.web.depends_on.0",
        "resources.web.deletion_policy",
        "resources.web.properties.name",
        "resources.web.properties.nope",
        "resources.web.properties.latency_ms",
        "resources.db.dock",
        "resources.q.type",
    }
    text = str(info.value)
    assert "unknown dock 'nowhere'" in text
    assert "valid types: bucket, database, domain, server, web-service" in text


def test_missing_name_and_required_properties_are_reported(parse) -> None:
    with pytest.raises(SpecError) as info:
        parse({"resources": {"a": {"dock": "main", "type": "bucket", "properties": {}}}})
    assert paths(info.value) == ["name", "resources.a.properties.name"]


def test_reference_to_unknown_resource_is_an_error(parse) -> None:
    with pytest.raises(SpecError) as info:
        parse(doc(web=res("bucket", name="${db.name}-web")))
    assert info.value.errors == [
        ("resources.web.properties.name", "reference to unknown resource 'db'")
    ]


def test_reference_to_an_output_the_type_does_not_expose_is_an_error(parse) -> None:
    with pytest.raises(SpecError) as info:
        parse(doc(db=res("database", name="d"), web=res("bucket", name="${db.password}")))
    (path, message), *_ = info.value.errors
    assert path == "resources.web.properties.name"
    assert "has no output 'password'" in message and "outputs: id, name, size" in message


def test_malformed_reference_is_an_error(parse) -> None:
    with pytest.raises(SpecError, match="malformed reference"):
        parse(doc(web=res("bucket", name="${db}")))


def test_escaped_reference_is_literal_text(parse) -> None:
    stack = parse(doc(web=res("server", name="web", size="$${not.a.ref}")))
    assert stack.resources["web"].references == ()
    assert resolve("$${not.a.ref}", lambda r, a: "x") == "${not.a.ref}"


def test_reference_holding_field_is_not_validated_before_resolution(parse) -> None:
    # the name will only be known after apply; other fields are still checked
    parse(doc(db=res("database", name="d"), web=res("bucket", name="${db.id}")))
    with pytest.raises(SpecError) as info:
        parse(doc(db=res("database", name="d"), web=res("bucket", name="${db.id}", size=5)))
    assert paths(info.value) == ["resources.web.properties.size"]


def test_unknown_field_holding_a_reference_is_still_an_error(parse) -> None:
    with pytest.raises(SpecError) as info:
        parse(doc(db=res("database", name="d"), web=res("bucket", name="w", colour="${db.id}")))
    assert paths(info.value) == ["resources.web.properties.colour"]


def test_cycle_through_references_is_a_cycle_error_naming_it(parse) -> None:
    document = doc(
        a=res("bucket", name="${c.name}-a"),
        b=res("bucket", name="${a.name}-b"),
        c=res("bucket", name="${b.name}-c"),
    )
    with pytest.raises(CycleError) as info:
        parse(document)
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "dependency cycle: " in str(info.value)


def test_self_reference_is_a_cycle(parse) -> None:
    with pytest.raises(CycleError, match="a -> a"):
        parse(doc(a=res("bucket", name="${a.name}")))


def test_unknown_provider_and_type_errors_list_the_valid_ones(registry) -> None:
    with pytest.raises(UnknownProvider, match="valid providers: sandbox, vault"):
        registry.adapter_class("aws")
    with pytest.raises(UnknownResourceType, match="valid types: bucket, database"):
        registry.resource_type("sandbox", "queue")


def test_registry_validate_turns_pydantic_errors_into_full_paths(registry) -> None:
    with pytest.raises(SpecError) as info:
        registry.validate(
            "sandbox", "bucket", {"name": "", "fail": "sometimes"}, path="resources.web.properties"
        )
    assert paths(info.value) == ["resources.web.properties.name", "resources.web.properties.fail"]


def test_registry_errors_never_echo_rejected_values(registry) -> None:
    with pytest.raises(SpecError) as info:
        registry.validate("vault", "secret-box", {"name": "n", "password": 12345678})
    assert "12345678" not in str(info.value)


def test_registry_json_schema_comes_from_the_spec_model(registry) -> None:
    schema = registry.json_schema("sandbox", "server")
    assert schema["required"] == ["name"]
    assert schema["properties"]["latency_ms"]["anyOf"][0]["maximum"] == 60000


def test_registering_a_different_adapter_for_a_taken_provider_fails(registry) -> None:
    from docks.adapters.sandbox import SandboxAdapter

    class Impostor(SandboxAdapter):
        pass

    registry.register(SandboxAdapter)  # same class again: fine
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)


def test_alias_bombs_are_rejected(parse) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "\n".join(lines) + "\nname: s\nresources: {}\n"
    with pytest.raises(SpecError, match="too large"):
        parse(text)


def test_resolve_keeps_whole_value_types_and_interpolates_embedded_ones() -> None:
    outputs = {("db", "port"): 5432, ("db", "name"): "main", ("db", "size"): None}

    def lookup(resource: str, attr: str) -> Any:
        return outputs[(resource, attr)]

    value = {"port": "${db.port}", "url": "pg://${db.name}:${db.port}", "s": "x${db.size}"}
    assert resolve(value, lookup) == {"port": 5432, "url": "pg://main:5432", "s": "x"}
    assert resolve(["${db.name}", {"k": "${ db.name }"}], lookup) == ["main", {"k": "main"}]
    assert resolve("a-${db.name}", lambda r, a: UNKNOWN) is UNKNOWN


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 3000)),
        "{" + '"a":{' * 5000 + "}" * 5001,
    ],
)
def test_absurdly_nested_documents_are_refused_not_crashed_on(text):
    from provisioning.engine.spec import load_document

    with pytest.raises(SpecError, match="nests deeper than 64 levels"):
        load_document(text)
