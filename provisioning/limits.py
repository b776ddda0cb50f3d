"""How big a stack document may be, and how many of its errors are shown.

Permission before cost: every entry point that accepts a stack document checks,
in this order and before it parses a byte of it,

1. that the actor may write stacks in the organization at all
   (``provisioning.services.require_stack_author``): a viewer's document is a
   403 whatever its size;
2. that the document is within ``STACKDOCK_STACK_MAX_BYTES`` (default 1 MiB;
   the API looks at the request's ``Content-Length`` before reading the body):
   a 413 naming the limit;

then, once loaded and before the resources are checked one by one, that it
declares at most ``STACKDOCK_STACK_MAX_RESOURCES`` resources (default 500): a
400 naming the limit. Of the errors a document has, the first
``MAX_ERRORS_SHOWN`` are reported with the count of the rest ("and 1,234
more"), so no error body is much larger than the limits allow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from stackdock.exceptions import ValidationError

#: errors of one document reported in full; the rest are counted
MAX_ERRORS_SHOWN = 50


class DocumentTooLarge(ValidationError):
    """A stack document (or the request carrying it) over ``STACKDOCK_STACK_MAX_BYTES``."""

    status_code = 413
    code = "too_large"


def max_document_bytes() -> int:
    return int(settings.STACKDOCK_STACK_MAX_BYTES)


def max_resources() -> int:
    return int(settings.STACKDOCK_STACK_MAX_RESOURCES)


def check_document_size(size: int) -> None:
    """DocumentTooLarge unless ``size`` bytes are within the limit."""
    limit = max_document_bytes()
    if size > limit:
        raise DocumentTooLarge(
            f"The stack document is too large: at most {limit:,} bytes, got {size:,}.",
            fields={"spec": [f"at most {limit:,} bytes (STACKDOCK_STACK_MAX_BYTES)"]},
        )


def document_size(doc: Any) -> int:
    """The size in bytes of a document given as text (UTF-8) or as a mapping (as JSON)."""
    if isinstance(doc, bytes):
        return len(doc)
    if isinstance(doc, str):
        return len(doc.encode("utf-8", errors="surrogatepass"))
    return len(json.dumps(doc, default=str, separators=(",", ":")).encode())


def capped(errors: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first ``MAX_ERRORS_SHOWN`` errors, then one saying how many more there are."""
    if len(errors) <= MAX_ERRORS_SHOWN:
        return list(errors)
    rest = len(errors) - MAX_ERRORS_SHOWN
    return [*errors[:MAX_ERRORS_SHOWN], ("", f"and {rest:,} more errors")]
