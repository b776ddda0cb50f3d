"""Every form generated from a pydantic model, rendered as a member sees it.

Invariant: an unbound generated form shows no value the person did not give or the
model does not default to - a required field starts empty (never the text of
pydantic's "no default" marker), and a field with a default starts with that default.
The matrix comes from the registry, so a new provider or resource type is covered
without an entry here.
"""

from __future__ import annotations

import re

import pytest

from provisioning.registry import get_registry
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db

REGISTRY = get_registry()
PROVIDERS = REGISTRY.providers()
TYPES = [
    (provider, name)
    for provider in PROVIDERS
    for name, rtype in REGISTRY.adapter_class(provider).resource_types.items()
    if rtype.table is not None
]
#: values a form must never show as if they were the person's input
NOT_VALUES = re.compile(r"PydanticUndefined|Ellipsis")


def _inputs(html: str) -> dict[str, str]:
    """name -> what the input or textarea shows (value= or the textarea's text)."""
    out = {}
    for match in re.finditer(r"<input[^>]*>", html):
        tag = match.group(0)
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and value:
            out[name.group(1)] = value.group(1)
    for match in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        out[match.group(1)] = match.group(2).strip()
    return out


def _assert_truthful(html: str, model: type) -> None:
    assert not NOT_VALUES.search(html), NOT_VALUES.search(html)
    shown = _inputs(html)
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        if info.is_required():
            assert shown.get(name, "") == "", f"required field {name!r} pre-filled: {shown[name]!r}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_add_dock_form_prefills_nothing_but_defaults(provider, owner, login):
    html = login(owner).get(f"/dashboard/docks/add/{provider}/").content.decode()
    _assert_truthful(html, REGISTRY.adapter_class(provider).credentials_model)


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != "sandbox"])
def test_rotate_form_prefills_nothing_but_defaults(provider, owner, login):
    dock = DockFactory(org=owner.org, provider=provider)
    html = login(owner).get(f"/dashboard/docks/{dock.pk}/rotate/").content.decode()
    _assert_truthful(html, REGISTRY.adapter_class(provider).credentials_model)


@pytest.mark.parametrize(("provider", "resource_type"), TYPES)
def test_provision_form_prefills_nothing_but_defaults(provider, resource_type, owner, login):
    DockFactory(org=owner.org, provider=provider)
    response = login(owner).get(f"/dashboard/provision/{provider}/{resource_type}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="provision-form"' in html
    rtype = REGISTRY.adapter_class(provider).resource_types[resource_type]
    _assert_truthful(html, rtype.spec_model)
