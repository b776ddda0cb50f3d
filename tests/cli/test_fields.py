"""Field flags from JSON Schema, and local validation (pure functions, no server)."""

from __future__ import annotations

import pytest

from stackdock.cli import errors
from stackdock.cli.errors import CliError
from stackdock.cli.fields import fields_of, parse_field_args, validate_spec
from tests.cli.conftest import AWS_CREDENTIALS, S3_SCHEMA, SANDBOX_SCHEMA, WORKER_SCHEMA


def parse(schema, *args, base_dir=None):
    return parse_field_args(list(args), fields_of(schema), what="test type", base_dir=base_dir)


def test_flags_are_coerced_to_the_schema_types():
    spec = parse(
        S3_SCHEMA,
        "--name",
        "my-bucket",
        "--versioning",
        "--tags",
        "env=prod",
        "--tags=team=web",
    )
    assert spec == {"name": "my-bucket", "versioning": True, "tags": {"env": "prod", "team": "web"}}


def test_integer_field_from_an_anyof_null_schema_and_dashed_flag_name():
    assert parse(SANDBOX_SCHEMA, "--name", "a", "--latency-ms", "250") == {
        "name": "a",
        "latency_ms": 250,
    }
    assert parse(SANDBOX_SCHEMA, "--latency_ms=5") == {"latency_ms": 5}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--versioning", "false"], False),
        (["--versioning=yes"], True),
        (["--no-versioning"], False),
        (["--versioning", "--name", "x"], True),
    ],
)
def test_boolean_flag_forms(args, expected):
    assert parse(S3_SCHEMA, *args)["versioning"] is expected


def test_array_flag_repeats_or_takes_json():
    schema = {"properties": {"values": {"type": "array", "items": {"type": "integer"}}}}
    assert parse(schema, "--values", "1", "--values", "2") == {"values": [1, 2]}
    assert parse(schema, "--values", "[3, 4]") == {"values": [3, 4]}


def test_bad_integer_names_the_flag_and_exits_2():
    with pytest.raises(CliError) as caught:
        parse(SANDBOX_SCHEMA, "--latency-ms", "soon")
    assert caught.value.exit_code == errors.USAGE
    assert "--latency-ms" in caught.value.message
    assert "spec.latency_ms" in caught.value.fields


def test_unknown_flag_lists_the_valid_ones():
    with pytest.raises(CliError) as caught:
        parse(S3_SCHEMA, "--colour", "red")
    err = caught.value
    assert err.exit_code == errors.USAGE
    assert "--colour" in err.message
    for flag in ("--name", "--region", "--versioning", "--tags"):
        assert flag in err.message


def test_flag_without_a_value_is_a_usage_error():
    with pytest.raises(CliError) as caught:
        parse(S3_SCHEMA, "--name")
    assert caught.value.exit_code == errors.USAGE
    assert "--name needs a value" in caught.value.message


def test_script_field_takes_a_path_and_sends_the_file_content(tmp_path):
    (tmp_path / "worker.js").write_text("export default { fetch() { return new Response('hi') } }")
    spec = parse(WORKER_SCHEMA, "--name", "w", "--script", "./worker.js", base_dir=tmp_path)
    assert spec["script"].startswith("export default")


def test_missing_script_file_is_a_usage_error_naming_the_field(tmp_path):
    with pytest.raises(CliError) as caught:
        parse(WORKER_SCHEMA, "--script", "./nope.js", base_dir=tmp_path)
    assert caught.value.exit_code == errors.USAGE
    assert "spec.script" in caught.value.fields
    assert "no such file" in caught.value.message


def test_at_path_reads_a_file_into_any_string_field(tmp_path):
    (tmp_path / "name.txt").write_text("from-a-file")
    assert parse(S3_SCHEMA, "--name", "@name.txt", base_dir=tmp_path) == {"name": "from-a-file"}


def test_scalar_flag_given_twice_is_refused():
    with pytest.raises(CliError, match="given twice"):
        parse(S3_SCHEMA, "--name", "a", "--name", "b")


def test_positional_leftover_is_refused():
    with pytest.raises(CliError, match="Unexpected argument 'stray'"):
        parse(S3_SCHEMA, "stray")


def test_validation_names_the_missing_required_field():
    with pytest.raises(CliError) as caught:
        validate_spec({"versioning": True}, S3_SCHEMA, what="aws s3-bucket")
    err = caught.value
    assert err.exit_code == errors.USAGE
    assert err.fields == {"spec.name": ["required"]}
    assert "--name" in err.message


def test_validation_reports_pattern_and_enum_problems_per_field():
    with pytest.raises(CliError) as caught:
        validate_spec({"name": "Bad Name", "fail": "sometimes"}, SANDBOX_SCHEMA, what="sandbox")
    fields = caught.value.fields
    assert set(fields) == {"spec.name", "spec.fail"}
    assert fields["spec.name"] == [
        "must be lowercase letters, digits, dots and hyphens, starting with a letter or digit"
    ]  # the server's words for the pattern (x-rule), never the regular expression
    assert fields["spec.fail"] == [
        "must be one of 'transient', 'permanent' or 'crash-after-create'"
    ]
    bare = {**SANDBOX_SCHEMA, "properties": {"name": {"type": "string", "pattern": "^a$"}}}
    with pytest.raises(CliError) as caught:
        validate_spec({"name": "b"}, bare, what="sandbox")
    assert caught.value.fields == {"spec.name": ["is not in the form this field takes"]}


def test_valid_spec_passes():
    validate_spec({"name": "ok-name", "latency_ms": 10}, SANDBOX_SCHEMA, what="sandbox")


def test_secret_values_never_appear_in_validation_messages():
    secret = "x" * 200
    schema = {
        **AWS_CREDENTIALS,
        "properties": {
            **AWS_CREDENTIALS["properties"],
            "secret_access_key": {
                **AWS_CREDENTIALS["properties"]["secret_access_key"],
                "maxLength": 10,
            },
        },
    }
    with pytest.raises(CliError) as caught:
        validate_spec(
            {"access_key_id": "AKIAEXAMPLEEXAMPLE", "secret_access_key": secret},
            schema,
            what="aws",
            prefix="credentials",
        )
    err = caught.value
    assert "credentials.secret_access_key" in err.fields
    assert secret not in repr(err.as_json())
    assert secret not in err.message


def test_partial_validation_checks_only_the_given_fields():
    validate_spec({"size": "xl"}, SANDBOX_SCHEMA, what="sandbox", partial=True)  # no name needed
    with pytest.raises(CliError) as caught:
        validate_spec({"latency_ms": -1}, SANDBOX_SCHEMA, what="sandbox", partial=True)
    assert list(caught.value.fields) == ["spec.latency_ms"]


def test_refs_are_resolved_for_field_kinds():
    schema = {
        "$defs": {"Size": {"enum": ["s", "m"], "type": "string"}},
        "properties": {"size": {"$ref": "#/$defs/Size"}, "count": {"allOf": [{"type": "integer"}]}},
    }
    fields = fields_of(schema)
    assert fields["size"].enum == ["s", "m"]
    assert fields["count"].kind == "integer"
    with pytest.raises(CliError):
        validate_spec({"size": "xl"}, schema, what="t", partial=True)
