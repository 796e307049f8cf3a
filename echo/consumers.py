"""The echo consumer: every message goes back to its sender, type and bytes intact.

Read it top to bottom: connect, receive, disconnect. To build on it, override
``deliver`` (where a received message goes) and keep the rest.
"""

import logging

from channels.generic.websocket import AsyncWebsocketConsumer

from . import protocol

logger = logging.getLogger(__name__)

# How much of a text message the log line quotes.
LOGGED_TEXT_CHARACTERS = 80


class EchoConsumer(AsyncWebsocketConsumer):
    """Echoes each message back to the connection that sent it."""

    subprotocols = protocol.SUBPROTOCOLS
    # A plain echo talks to no other consumer, so it takes no channel from the
    # channel layer: nothing to set up per connection, and no dependency on Redis.
    channel_layer_alias = None

    async def connect(self):
        self.peer = peer_address(self.scope)
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


def peer_address(scope):
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown peer"


def summary(text_data, bytes_data):
    if text_data is not None:
        return text_data[:LOGGED_TEXT_CHARACTERS]
    return f"{len(bytes_data)} bytes"
