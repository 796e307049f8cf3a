from django.urls import path

from . import views

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("files", views.upload, name="chat-upload"),
    path("files/<str:upload_id>/<path:name>", views.served, name="chat-file"),
    path("thumbnails/<str:upload_id>", views.thumbnail, name="chat-thumbnail"),
]
