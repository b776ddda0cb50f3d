"""Stack documents may be sent as YAML (or JSON) text instead of a JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class YamlDocumentParser(BaseParser):
    """The whole body is the stack document: parsed later by the engine's safe loader
    (which reports errors with their line), so here it is only decoded."""

    media_type = "application/yaml"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not valid UTF-8.") from None
        return {"spec": text}


class XYamlDocumentParser(YamlDocumentParser):
    media_type = "application/x-yaml"


class TextYamlDocumentParser(YamlDocumentParser):
    media_type = "text/yaml"


YAML_PARSERS = [YamlDocumentParser, XYamlDocumentParser, TextYamlDocumentParser]
