"""A base consumer: Channels' AsyncWebsocketConsumer without its per-message
costs, and with one rule for a channel layer that fails.

Channels' consumer closes stale database connections before every event (a
hop to a worker thread) and, to wait on the client and the channel layer at
once, makes a new task for every message. Profiling the echo service put those
two at about 45% of its time. This class keeps the same hooks (connect,
receive, disconnect, event handlers named after event types) and drops both:

- database access goes through ``database_sync_to_async`` (or the ORM's async
  methods), which close stale connections themselves, so no sweep per event;
- a consumer without a channel layer reads its one source of events directly.

A consumer with a channel layer that can no longer vouch for delivery (Redis
unreachable or stalled, ``ChannelLayerUnavailable`` or a redis-py error from
channels-redis's layers) closes with 1013 so that its client reconnects; one
that falls ``CHANNEL_CAPACITY`` events behind (``ChannelFull``) closes with 3008.
Either way it leaves its groups and ``disconnect()`` runs.
"""

import logging

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from redis.exceptions import RedisError

from server.close_codes import TOO_SLOW, TRY_AGAIN_LATER
from server.layers import ChannelLayerUnavailable

logger = logging.getLogger(__name__)

LAYER_ERRORS = (ChannelLayerUnavailable, RedisError)


class LeanWebsocketConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        if self.channel_layer_alias is not None:
            try:
                return await super().__call__(scope, receive, send)
            except LAYER_ERRORS as error:
                logger.debug("channel layer failed under %s: %r", self, error)
                close = TRY_AGAIN_LATER
            except ChannelFull:
                close = TOO_SLOW
            await self.close_after_layer_failure(send, close)
            return
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def close_after_layer_failure(self, send, close):
        # The handshake may not have been answered yet: accepting first lets the
        # client read the code and its reason, where a refusal is a bare failure.
        if not getattr(self, "accepted", False):
            await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.close", "code": close.code, "reason": close.reason}
        )
        await self.leave_groups()
        await self.disconnect(close.code)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)

    async def websocket_disconnect(self, message):
        await self.leave_groups()
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def leave_groups(self):
        for group in self.groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except LAYER_ERRORS:
                # Unreachable: the membership expires (CHANNEL_MEMBERSHIP_TTL).
                logger.debug("could not leave group %s", group)
