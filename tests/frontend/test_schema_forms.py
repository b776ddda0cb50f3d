"""Forms generated from pydantic models (no database)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from docks.adapters.aws.specs import S3BucketSpec
from docks.adapters.base import SpecModel
from frontend.schema_forms import SchemaForm


class Thing(SpecModel):
    name: str = Field(description="What it is called.")
    size: int = Field(default=1, ge=1, le=10)
    mode: Literal["a", "b"] | None = None
    hosts: list[str] = Field(default_factory=list)
    password: SecretStr | None = None


def test_key_value_lines_become_a_dict_and_bad_lines_are_named():
    form = SchemaForm({"name": "b1", "tags": "team = web\n\nenv=prod"}, model=S3BucketSpec)
    assert form.is_valid(), form.errors
    assert form.spec_values() == {
        "name": "b1",
        "versioning": False,
        "tags": {"team": "web", "env": "prod"},
    }
    bad = SchemaForm({"name": "b1", "tags": "team=web\noops"}, model=S3BucketSpec)
    assert not bad.is_valid() and bad.errors["tags"] == ["line 2: write key=value"]


def test_empty_optional_fields_are_left_out_so_model_defaults_apply():
    form = SchemaForm({"name": "x", "size": "", "mode": "", "hosts": "a, b\nc"}, model=Thing)
    assert form.is_valid(), form.errors
    assert form.spec_values() == {"name": "x", "hosts": ["a", "b", "c"]}


def test_number_hints_and_required_marks_come_from_the_schema():
    form = SchemaForm(model=Thing)
    size = str(form["size"])
    assert 'type="number"' in size and 'min="1"' in size and 'max="10"' in size
    assert 'aria-required="true"' in str(form["name"])
    assert form.fields["name"].help_text == "What it is called."
    assert form.fields["size"].initial == 1


def test_secrets_are_write_only_and_never_rendered_back():
    form = SchemaForm({"name": "x", "password": "CANARY-77"}, model=Thing)
    assert form.is_valid()
    html = str(form["password"])
    assert 'type="password"' in html and "CANARY-77" not in html
    assert form.spec_values()["password"] == "CANARY-77"
    empty = SchemaForm({"name": "x", "password": ""}, model=Thing)
    assert empty.is_valid() and "password" not in empty.spec_values()


def test_server_errors_land_beside_the_input_they_name():
    form = SchemaForm({"name": "x"}, model=Thing)
    assert form.is_valid()
    form.add_server_errors(
        {
            "spec.name": ["Value error, taken"],
            "spec.hosts.1": ["not a host"],
            "spec": ["name and mode conflict"],
            "spec.nowhere": ["odd"],
        },
        prefix="spec.",
    )
    assert form.errors["name"] == ["taken"]
    assert form.errors["hosts"] == ["1: not a host"]
    assert form.non_field_errors() == ["name and mode conflict", "spec.nowhere: odd"]
