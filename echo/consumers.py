"""The echo consumers: every message goes back, type and bytes intact.

EchoConsumer sends it back to its sender; GroupEchoConsumer to every member of
a group, on whichever worker process each member is connected. Read each top to
bottom: connect, receive, disconnect, then the channel-layer event handlers.
"""

import logging
from functools import cached_property

from channels.layers import DEFAULT_CHANNEL_LAYER
from django.conf import settings

from server.extensions.consumers import LeanWebsocketConsumer, fastlane
from server.extensions.limits import Rate

from . import protocol

logger = logging.getLogger(__name__)

# How much of a text message the log line quotes.
LOGGED_TEXT_CHARACTERS = 80


class EchoConsumer(LeanWebsocketConsumer):
    """Echoes each message back to the connection that sent it."""

    subprotocols = protocol.SUBPROTOCOLS
    # Its messages may be as large as the server allows (WEBSOCKET_MAX_MESSAGE_SIZE).
    rate = Rate(settings.ECHO_RATE_PER_SECOND, settings.ECHO_RATE_BURST)
    # A plain echo talks to no other consumer, so it takes no channel from the
    # channel layer: nothing to set up per connection, and no dependency on Redis.
    channel_layer_alias = None

    @cached_property
    def peer(self):
        return peer_address(self.scope)

    async def connect(self):
        offered = self.scope.get("subprotocols", [])
        await self.accept(protocol.choose_subprotocol(offered, self.subprotocols))

    async def receive(self, text_data=None, bytes_data=None):
        logger.info("%s sent: %s", self.peer, summary(text_data, bytes_data))
        await self.deliver(text_data, bytes_data)

    async def deliver(self, text_data, bytes_data):
        """Send a received message on; here, straight back to its sender."""
        await self.send(text_data=text_data, bytes_data=bytes_data)

    async def disconnect(self, code):
        logger.debug("%s closed with %s", self.peer, code)


class GroupEchoConsumer(EchoConsumer):
    """Echoes each message to every member of the group named in the URL,
    the sender included."""

    channel_layer_alias = DEFAULT_CHANNEL_LAYER

    async def connect(self):
        self.group = self.scope["url_route"]["kwargs"]["group"]
        if not protocol.GROUP_NAME.fullmatch(self.group):
            await self.close()
            return
        # Joined before the handshake completes: a client that sees the
        # connection open hears every message sent to the group from then on.
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.groups.append(self.group)
        await super().connect()

    async def deliver(self, text_data, bytes_data):
        await self.channel_layer.group_send(
            self.group, {"type": "echo.message", "text": text_data, "bytes": bytes_data}
        )

    @fastlane
    def echo_message(event):
        """A group member's message, as it was sent: text or bytes."""
        return event["text"] if event["text"] is not None else event["bytes"]


def peer_address(scope):
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown peer"


def summary(text_data, bytes_data):
    if text_data is not None:
        return text_data[:LOGGED_TEXT_CHARACTERS]
    return f"{len(bytes_data)} bytes"
