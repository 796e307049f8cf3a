from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/echo/", consumers.EchoConsumer.as_asgi(), name="echo"),
    path("ws/echo/<str:group>/", consumers.GroupEchoConsumer.as_asgi(), name="group"),
]
