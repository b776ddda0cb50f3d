"""The API's one renderer: DRF's JSON, plus bodies that were rendered before (cached)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers


class RawJSON:
    """A body already rendered by ``JSONRenderer``: passed through as it is."""

    __slots__ = ("content",)

    def __init__(self, content: bytes) -> None:
        self.content = content


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, RawJSON):
            return data.content
        return super().render(data, accepted_media_type, renderer_context)
