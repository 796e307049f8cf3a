"""The baseline: Channels' tutorial echo and group echo, on stock daphne.

AsyncWebsocketConsumers behind the tutorial's middleware (allowed-hosts origin
check, sessions and auth, URL router), with none of this project's changes:
daphne's own WebSocket protocol, Channels' own dispatch, the same settings
(so REDIS_CHANNEL_LAYER=core gives it channels-redis's core layer).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402


class StockEchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


class StockGroupEchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = self.scope["url_route"]["kwargs"]["group"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            self.group, {"type": "echo.message", "text": text_data, "bytes": bytes_data}
        )

    async def echo_message(self, event):
        await self.send(text_data=event["text"], bytes_data=event["bytes"])


application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/echo/", StockEchoConsumer.as_asgi()),
                        path("ws/echo/<group>/", StockGroupEchoConsumer.as_asgi()),
                    ]
                )
            )
        ),
    }
)
