from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("echo.urls")),
    path("chat/", include("chat.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
