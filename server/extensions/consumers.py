"""A base consumer: Channels' AsyncWebsocketConsumer without its per-message
costs, and with one rule for a channel layer that fails.

Channels' consumer closes stale database connections before every event (a
hop to a worker thread) and, to wait on the client and the channel layer at
once, makes a new task for every message. Profiling the echo service put those
two at about 45% of its time. This class keeps the same hooks (connect,
receive, disconnect, event handlers named after event types) and drops both:

- database access goes through ``channels.db.database_sync_to_async``, which
  closes broken and obsolete connections before and after each call (and with
  CONN_HEALTH_CHECKS on, replaces one the database server closed), so a consumer
  that never touches the database, as the echo does, pays nothing. The ORM's
  own async methods (``aget``, ``acreate``...) are plain ``sync_to_async`` and
  do none of that: consumers do not use them;
- a consumer without a channel layer reads its one source of events directly.

A consumer with a channel layer that can no longer vouch for delivery (Redis
unreachable or stalled, ``ChannelLayerUnavailable`` or a redis-py error from
channels-redis's layers) closes with 1013 so that its client reconnects; one
that falls ``CHANNEL_CAPACITY`` events behind (``ChannelFull``) closes with 3008.
Either way it leaves its groups and ``disconnect()`` runs.

A subclass may declare limits (``limits.py``): ``max_message_bytes``,
past which a message closes the connection with 1009, and ``rate``, a token
bucket per connection; a message over the rate goes to ``rate_limited()``,
which closes with 1008 unless the subclass answers otherwise, and a client
that keeps sending into an empty bucket is closed with 1008 regardless.

Group events whose handler is declared with ``fastlane`` take the fast lane
when the channel layer declares one (``"fastlane" in layer.extensions``,
``layers/local.py``): encoded and framed once per worker, written to every
member. A subclass that overrides such a handler gets the event through it, as
with any other handler.

Every authenticated connection is reachable by its user (``users.py``): it
joins its user's and its session's groups, handles ``realtime.send`` and
``realtime.disconnect``, and counts in the presence of users behind the
``user_connected`` and ``user_disconnected`` signals. A consumer without a
channel layer takes one for an authenticated connection so that it can be
reached; ``reachable = False`` opts out.

The consumer relies on Channels' own names, listed in ``RELIES_ON`` and checked
at start-up (server/transport/upstream.py).
"""

import functools
import logging
from functools import cached_property

from channels import consumer as channels_consumer
from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import DEFAULT_CHANNEL_LAYER
from django.conf import settings

from server.transport import counters, message_limit
from server.transport import fastlane as transport_fastlane

from . import users
from .close_codes import MESSAGE_TOO_BIG, RATE_LIMITED, TOO_SLOW, TRY_AGAIN_LATER
from .layers import FASTLANE, LAYER_ERRORS, OUTAGES
from .limits import TokenBucket, exceeds
from .routing import steps_aside
from .signals import send_logged, user_connected, user_disconnected

logger = logging.getLogger(__name__)


# What the consumer below takes from Channels: the no-layer path of __call__
# sets what AsyncConsumer.__call__ sets, and the handlers are Channels' own.
RELIES_ON = [
    (
        AsyncConsumer.__call__,
        ["scope", "channel_layer", "channel_name", "channel_receive", "base_send"],
    ),
    (AsyncConsumer, ["channel_layer_alias", "dispatch"]),
    (
        AsyncWebsocketConsumer,
        [
            "groups",
            "accept(subprotocol, headers)",
            "close(code, reason)",
            "send(text_data, bytes_data, close)",
            "websocket_connect",
            "receive",
            "disconnect",
        ],
    ),
    (channels_consumer, ["get_handler_name"]),
]


def fastlane(encode):
    """An event handler that sends ``encode(event)`` to the client: a str as a
    text message, bytes as binary.

    ``encode`` sees only the event, never the consumer, so its result is the
    same for every member and the layer may compute it once per worker and
    write the same frame to every member's connection. A consumer that needs
    per-member handling of the event overrides the handler instead.
    """

    async def handler(self, event):
        content = encode(event)
        if isinstance(content, str):
            await self.send(text_data=content)
        else:
            await self.send(bytes_data=content)

    handler.__name__ = encode.__name__
    handler.__qualname__ = encode.__qualname__
    handler.__doc__ = encode.__doc__
    handler.fastlane = encode
    return handler


@functools.cache
def fastlane_handlers(consumer_class):
    """Handler name -> encoder, for the fast-lane handlers the class still has."""
    handlers = {}
    for name in dir(consumer_class):
        encode = getattr(getattr(consumer_class, name, None), "fastlane", None)
        if encode is not None:
            handlers[name] = encode
    return handlers


class LeanWebsocketConsumer(AsyncWebsocketConsumer):
    # Limits a subclass declares: the largest message in bytes (None: only the
    # server's WEBSOCKET_MAX_MESSAGE_SIZE) and a limits.Rate (None: none).
    max_message_bytes = None
    rate = None
    # An authenticated connection joins its user's and session's groups.
    reachable = True
    reachable_only = False
    user_id = None  # set once the connection counts in the presence of users

    @classmethod
    def as_asgi(cls, **initkwargs):
        """Channels' ``as_asgi``, stepping aside (``routing.py``): the
        application returns the new consumer's coroutine."""

        @steps_aside
        def app(scope, receive, send):
            return cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls
        app.consumer_initkwargs = initkwargs
        return functools.update_wrapper(app, cls, updated=())

    async def __call__(self, scope, receive, send):
        if (
            self.channel_layer_alias is None
            and self.reachable
            and users.authenticated_user(scope) is not None
        ):
            # Only to be reachable: such a connection rides out an outage.
            self.channel_layer_alias = DEFAULT_CHANNEL_LAYER
            self.reachable_only = True
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
        await self.leave_user_presence()
        await self.disconnect(close.code)

    async def accept(self, subprotocol=None, headers=None):
        if self.channel_layer is not None and self.reachable:
            await self.join_user_groups()
        await super().accept(subprotocol, headers)
        self.accepted = True
        if self.channel_layer is not None:
            self.join_fastlane()

    async def join_user_groups(self):
        """Join the user's and the session's groups, and count in the presence
        of users (a first connection anywhere sends ``user_connected``)."""
        user = users.authenticated_user(self.scope)
        if user is None:
            return
        if self.reachable_only and OUTAGES in self.channel_layer.extensions:
            self.channel_layer.survive_outages(self.channel_name)
        joining = [users.user_group(user.pk)]
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:
            joining.append(users.session_group(session_key))
        for group in joining:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        self.user_id = user.pk
        try:
            first = await users.presence().enter(
                users.USERS, users.USERS, str(user.pk), self.channel_name
            )
        except LAYER_ERRORS:
            return  # unknown while Redis is away; renewing restores the entry
        if first:
            await send_logged(user_connected, user_id=user.pk)

    async def leave_user_presence(self):
        if self.user_id is None:
            return
        user_id, self.user_id = self.user_id, None
        try:
            last = await users.presence().exit(
                users.USERS, str(user_id), self.channel_name
            )
        except LAYER_ERRORS:
            return  # the entry lapses by itself
        if last:
            await send_logged(user_disconnected, user_id=user_id)

    def join_fastlane(self):
        if FASTLANE not in self.channel_layer.extensions:
            return
        encoders = fastlane_handlers(type(self))
        connection = self.scope.get("extensions", {}).get(transport_fastlane.SCOPE_KEY)
        if encoders and connection is not None:
            self.channel_layer.fastlane(self.channel_name, encoders, connection)

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)

    async def websocket_receive(self, message):
        text_data, bytes_data = message.get("text"), message.get("bytes")
        limit = self.message_limit
        if limit is not None and exceeds(limit, text_data, bytes_data):
            counters.REJECTIONS.labels("message too big").inc()
            await self.close(MESSAGE_TOO_BIG.code, f"message exceeds {limit} bytes")
            return
        bucket = self.bucket
        if bucket is not None and not bucket.take():
            counters.REJECTIONS.labels("rate limited").inc()
            if bucket.flooding:
                await self.close(RATE_LIMITED.code, RATE_LIMITED.reason)
            else:
                await self.rate_limited(text_data, bytes_data)
            return
        await self.receive(text_data=text_data, bytes_data=bytes_data)

    async def rate_limited(self, text_data, bytes_data):
        """A message over ``rate``: refused. A protocol with error replies
        answers it here; by default the connection is closed with 1008."""
        await self.close(RATE_LIMITED.code, RATE_LIMITED.reason)

    @cached_property
    def message_limit(self):
        """The largest message taken: ``max_message_bytes``, and the server's
        WEBSOCKET_MAX_MESSAGE_SIZE where the server does not declare that its
        transport enforces it (granian and uvicorn do not)."""
        limits = [self.max_message_bytes]
        if message_limit.SCOPE_KEY not in self.scope.get("extensions", {}):
            limits.append(settings.WEBSOCKET_MAX_MESSAGE_SIZE)
        return min((limit for limit in limits if limit is not None), default=None)

    @cached_property
    def bucket(self):
        rate = self.rate
        return TokenBucket(rate) if rate is not None and rate.enabled else None

    async def websocket_disconnect(self, message):
        await self.leave_groups()
        await self.leave_user_presence()
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def leave_groups(self):
        for group in self.groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except LAYER_ERRORS:
                # Unreachable: the membership expires (CHANNEL_MEMBERSHIP_TTL).
                logger.debug("could not leave group %s", group)

    # Events from the application (users.py): for every consumer.

    @fastlane
    def realtime_send(event):
        """A message from the application, as it was given: text or bytes."""
        return event["text"] if event["text"] is not None else event["bytes"]

    async def realtime_disconnect(self, event):
        """The application signed this user or session out."""
        await self.close(event["code"], event["reason"])

    async def layer_outage(self, event):
        """Redis is unreachable; a consumer that rides it out may say so."""

    async def layer_restored(self, event):
        """Redis is back."""
