from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from frontend.views import LoginView

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    # browsers ask for /favicon.ico on pages that name no icon (admin, JSON responses)
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include("frontend.urls")),
    path("api/v1/", include("stackdock.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with no inline script or style (the CSP forbids both): the split view
    # serves its start-up script as a file (/api/docs/?script), see docs/API.md.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="frontend/api/swagger_ui.html"
        ),
        name="api-docs",
    ),
]
