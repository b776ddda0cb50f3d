"""StackDock's URLs plus the two constant endpoints the API latencies are compared with."""

from __future__ import annotations

from django.urls import path

from bench.system.views import AuthedConstantView, ConstantView, UncachedServersViewSet
from stackdock.urls import urlpatterns as stackdock_urlpatterns

urlpatterns = [
    path("bench/constant", ConstantView.as_view(), name="bench-constant"),
    path("bench/constant-auth", AuthedConstantView.as_view(), name="bench-constant-auth"),
    path(
        "bench/servers-uncached",
        UncachedServersViewSet.as_view({"get": "list"}),
        name="bench-servers-uncached",
    ),
    *stackdock_urlpatterns,
]
