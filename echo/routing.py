from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    path("ws/echo/", consumers.EchoConsumer.as_asgi(), name="echo"),
    path("ws/echo/<str:group>/", consumers.GroupEchoConsumer.as_asgi(), name="group"),
    # Any other path is refused at the handshake (403), not failed with a 500.
    re_path(r"", WebsocketDenier.as_asgi(), name="unknown"),
]
