from django.contrib import admin
from django.urls import include, path, re_path

from realtime.api import api, not_found
from server.operations import health, metrics

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics.metrics),
    path("", include("echo.urls")),
    path("chat/", include("chat.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", not_found),
]
