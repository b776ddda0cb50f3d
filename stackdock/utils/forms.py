"""Form fields shared by the dashboard and Django admin."""

from __future__ import annotations

from typing import Any

from django import forms

from stackdock.outbound import validate_endpoint_url


class EndpointField(forms.URLField):
    """An endpoint override input: the one ``endpoint_url`` validator, and a value
    carrying ``user:password@`` (refused) is never shown back - the password would
    otherwise sit in the page's HTML."""

    default_validators = [*forms.URLField.default_validators, validate_endpoint_url]

    def bound_data(self, data: Any, initial: Any) -> Any:
        value = super().bound_data(data, initial)
        return "" if isinstance(value, str) and "@" in value else value
