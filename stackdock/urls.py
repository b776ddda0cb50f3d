from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from frontend.views import LoginView
from frontend.views.invitations import invitation

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    # browsers ask for /favicon.ico on pages that name no icon (admin, JSON responses)
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # password reset: Django's own flow (docs/architecture/SECURITY.md, "Accounts"), with
    # the dashboard's templates (Django admin ships ones of the same default names)
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(
            template_name="frontend/account/password_reset_form.html"
        ),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="frontend/account/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="frontend/account/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="frontend/account/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("accounts/invitation/<str:secret>/", invitation, name="invitation"),
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

handler404 = "frontend.views.errors.page_not_found"
