from __future__ import annotations

from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("switch-org/", views.switch_org, name="switch-org"),
]
