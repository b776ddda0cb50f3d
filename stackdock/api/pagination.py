"""Limit/offset pagination for every list: ``limit`` (at most 200), ``offset``, ``count``.

DRF's class already treats a bad or negative ``limit`` as the default, caps it
at ``max_limit`` and answers an ``offset`` past the end with an empty page
without asking the database for it, so no input reaches SQL unchecked.
"""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Pagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT
    template = None  # JSON only: no browsable-API page controls
