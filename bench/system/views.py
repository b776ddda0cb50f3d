"""The baselines of the API benchmark.

``ConstantView`` is a bare DRF endpoint returning a constant: no authentication,
permission or throttle - the floor of a DRF request through gunicorn and the
middleware. ``AuthedConstantView`` returns the same constant through StackDock's
``ApiView`` (token authentication, membership check, throttles), so the cost of
authentication can be told apart from the cost of the endpoint's own work.
``UncachedServersViewSet`` is the servers list without the shared page cache:
what a page costs right after a write to the table.
"""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from docks.api.views import RESOURCE_VIEWSETS
from stackdock.api.base import ApiView

CONSTANT = {"ok": True}


class ConstantView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    def get(self, request: Request) -> Response:
        return Response(CONSTANT)


class AuthedConstantView(ApiView):
    def get(self, request: Request) -> Response:
        return Response(CONSTANT)


class UncachedServersViewSet(RESOURCE_VIEWSETS["servers"]):  # type: ignore[misc,valid-type]
    list_cache = False
