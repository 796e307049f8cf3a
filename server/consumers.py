"""A base consumer: Channels' AsyncWebsocketConsumer without its per-message costs.

Channels' consumer closes stale database connections before every event (a
hop to a worker thread) and, to wait on the client and the channel layer at
once, makes a new task for every message. Profiling the echo service put those
two at about 45% of its time. This class keeps the same hooks (connect,
receive, disconnect, event handlers named after event types) and drops both:

- database access goes through ``database_sync_to_async`` (or the ORM's async
  methods), which close stale connections themselves, so no sweep per event;
- a consumer without a channel layer reads its one source of events directly.
"""

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer


class LeanWebsocketConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        if self.channel_layer_alias is not None:
            return await super().__call__(scope, receive, send)
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)

    async def websocket_disconnect(self, message):
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.disconnect(message["code"])
        raise StopConsumer()
