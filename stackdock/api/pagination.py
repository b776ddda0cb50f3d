"""Limit/offset pagination for every list: ``limit`` (at most 200), ``offset``, ``count``.

DRF's class already treats a bad or negative ``limit`` as the default, caps it
at ``max_limit`` and answers an ``offset`` past the end with an empty page
without asking the database for it, so no input reaches SQL unchecked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Pagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT
    template = None  # JSON only: no browsable-API page controls
    _counted: QuerySet[Any] | None = None

    def paginate_values(
        self, queryset: QuerySet[Any], columns: Sequence[str], request: Request, view: Any = None
    ) -> list[dict[str, Any]] | None:
        """A page of ``queryset.values(*columns)``, counted on ``queryset`` itself: the
        joins that related columns (``dock__name``) add stay out of the ``COUNT(*)``."""
        self._counted = queryset
        try:
            return self.paginate_queryset(queryset.values(*columns), request, view)
        finally:
            self._counted = None

    def get_count(self, queryset: Any) -> int:
        return int(super().get_count(self._counted if self._counted is not None else queryset))
