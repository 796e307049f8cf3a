"""The chat consumer: rooms, history, presence, typing and direct messages.

Read it top to bottom: connect, receive (which hands each message type to the
method marked ``@handles`` for it), disconnect, then the group events. Every message is
stored before it is broadcast and carries its room's next id, so a client that
sees a gap, or reconnects, asks for what it missed (``since``, ``history``).
Database work goes through ``db`` (database_sync_to_async, which replaces
broken connections); per-connection state is set in ``connect``.

A Redis outage does not close a chat connection where the layer declares
``"outages"`` (``survive_outages``): the client is told ``degraded``, messages are still
stored and reach the members on this worker, and others find them through
their ids; ``restored`` says live delivery across workers is back.
"""

import time

from channels.db import database_sync_to_async as db
from channels.layers import DEFAULT_CHANNEL_LAYER
from django.conf import settings
from django.contrib.auth import get_user_model

from server.extensions.consumers import LAYER_ERRORS, LeanWebsocketConsumer, fastlane
from server.extensions.handlers import DeclaredHandlers, handles
from server.extensions.layers import OUTAGES
from server.extensions.limits import Rate
from server.extensions.signals import send_logged

from . import posting, protocol, storage
from .presence import presence_for
from .protocol import ProtocolError
from .signals import member_joined, member_left


class ChatConsumer(DeclaredHandlers, LeanWebsocketConsumer):
    channel_layer_alias = DEFAULT_CHANNEL_LAYER
    message_types = protocol.CLIENT_MESSAGES
    max_message_bytes = settings.CHAT_MAX_MESSAGE_SIZE
    rate = Rate(settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST)

    async def connect(self):
        self.user = self.scope["user"]
        self.name = await db(chat_name)(self.user, self.scope.get("query_string"))
        self.rooms = {}  # joined: room name -> Room
        self.typed_at = {}  # room name -> when this connection last said so
        self.presence = presence_for(self.channel_layer)
        if OUTAGES in self.channel_layer.extensions:
            self.channel_layer.survive_outages(self.channel_name)
        await self.accept()
        if self.name is None:
            await self.reply(protocol.error(ProtocolError(protocol.INVALID_NAME)))
            close = protocol.CLOSE_INVALID_NAME
            await self.close(close.code, close.reason)

    async def receive(self, text_data=None, bytes_data=None):
        ref = None
        try:
            if text_data is None:
                raise ProtocolError(protocol.BINARY_FRAME)
            message = protocol.parse(text_data, self.handlers)
            ref = message.get("client_id")
            await self.handler_for(message["type"])(message)
        except ProtocolError as problem:
            if ref is None:
                ref = protocol.client_id_of(text_data)
            await self.reply(protocol.error(problem, ref))

    async def rate_limited(self, text_data, bytes_data):
        """Over the rate: this message is refused, and the client told which."""
        error = ProtocolError(protocol.RATE_LIMITED)
        await self.reply(protocol.error(error, protocol.client_id_of(text_data)))

    async def disconnect(self, code):
        for room in list(self.rooms.values()):
            await self.leave(room)

    # What a client may send.

    @handles("join")
    async def on_join(self, message):
        name = protocol.room_name(message)
        since = protocol.field(message, "since", int, required=False)
        room = await db(storage.open_room)(name, self.user)
        await self.enter(room, since)

    @handles("direct")
    async def on_direct(self, message):
        other = protocol.field(message, "user", str)
        since = protocol.field(message, "since", int, required=False)
        room = await db(storage.open_direct_room)(self.user, other)
        await self.enter(room, since)

    @handles("leave")
    async def on_leave(self, message):
        room = self.joined(message)
        await self.leave(room)
        await self.reply({"type": "left", "room": room.name})

    @handles("message")
    async def on_message(self, message):
        room = self.joined(message)
        text = protocol.field(message, "text", str)
        client_id = protocol.field(message, "client_id", str, required=False)
        stored, new = await posting.store(room, self.name, self.user, text, client_id)
        if new:
            await self.broadcast(room.group, posting.event(stored))
        else:
            await self.reply(stored)

    @handles("history")
    async def on_history(self, message):
        room = self.joined(message)
        before = protocol.field(message, "before", int, required=False)
        after = protocol.field(message, "after", int, required=False)
        limit = protocol.field(message, "limit", int, required=False)
        page = settings.CHAT_HISTORY_PAGE
        limit = page if limit is None else max(1, min(limit, page))
        if (before is None) == (after is None):
            raise ProtocolError(protocol.INVALID_FIELD, "give one of before, after")
        if before is not None:
            messages = await db(storage.before)(room, before, limit)
        else:
            messages = await db(storage.after)(room, after, limit)
        await self.reply(
            {
                "type": "history",
                "room": room.name,
                "messages": [m.wire(room.name) for m in messages],
                "last_id": await db(storage.last_seq)(room),
            }
        )

    @handles("typing")
    async def on_typing(self, message):
        room = self.joined(message)
        now = time.monotonic()
        if now - self.typed_at.get(room.name, -1e9) < settings.CHAT_TYPING_INTERVAL:
            return
        self.typed_at[room.name] = now
        await self.broadcast(
            room.group, {"type": "chat.typing", "room": room.name, "user": self.name}
        )

    @handles("rooms")
    async def on_rooms(self, message):
        public = await db(storage.public_rooms)()
        direct = await db(storage.direct_rooms)(self.user)
        await self.reply(
            {
                "type": "rooms",
                "rooms": [{"name": n, "last_id": last} for n, last in public],
                "direct": [{"name": n, "last_id": last} for n, last in direct],
            }
        )

    # Joining and leaving a room.

    async def enter(self, room, since):
        """Join ``room``'s group (so that nothing sent from now on is missed),
        announce this user if they were not there, then answer with the
        members and the history: the newest messages, or those after
        ``since``. Messages may arrive before ``joined``; their ids order them.
        """
        if room.name not in self.rooms:
            await self.channel_layer.group_add(room.group, self.channel_name)
            self.groups.append(room.group)
            self.rooms[room.name] = room
            if await self.presence_of(
                self.presence.enter(
                    room.group, room.name, self.name, self.channel_name
                ),
                unknown=False,
            ):
                await self.announce(room, joined=[self.name])
                await send_logged(member_joined, room=room.name, user=self.name)
        if since is None:
            messages = await db(storage.latest)(room, settings.CHAT_HISTORY_LATEST)
        else:
            messages = await db(storage.after)(room, since, settings.CHAT_HISTORY_PAGE)
        await self.reply(
            {
                "type": "joined",
                "room": room.name,
                "members": await self.presence_of(
                    self.presence.members(room.group), unknown=[self.name]
                ),
                "messages": [m.wire(room.name) for m in messages],
                "last_id": await db(storage.last_seq)(room),
            }
        )

    async def leave(self, room):
        del self.rooms[room.name]
        self.groups.remove(room.group)
        await self.channel_layer.group_discard(room.group, self.channel_name)
        if await self.presence_of(
            self.presence.exit(room.group, self.name, self.channel_name), unknown=False
        ):
            await self.announce(room, left=[self.name])
            await send_logged(member_left, room=room.name, user=self.name)

    async def broadcast(self, group, event):
        """Send ``event`` to every member of ``group``; with Redis unreachable,
        to this worker's members, the rest finding it by its id later."""
        try:
            await self.channel_layer.group_send(group, event)
        except LAYER_ERRORS:
            if OUTAGES not in self.channel_layer.extensions:
                raise
            self.channel_layer.group_send_local(group, event)

    async def announce(self, room, joined=(), left=()):
        await self.broadcast(
            room.group,
            {
                "type": "chat.presence",
                "room": room.name,
                "joined": list(joined),
                "left": list(left),
            },
        )

    async def presence_of(self, asking, unknown):
        """What presence in Redis answers, or ``unknown`` while it cannot."""
        try:
            return await asking
        except LAYER_ERRORS:
            return unknown

    def joined(self, message):
        name = protocol.room_name(message)
        if name not in self.rooms:
            raise ProtocolError(protocol.NOT_JOINED)
        return self.rooms[name]

    async def reply(self, message):
        await self.send(text_data=protocol.encode(message))

    # Group events. The same bytes go to every member (the fast lane) but for
    # typing, which a member does not hear of itself.

    @fastlane
    def chat_message(event):
        """A stored message, for every member of its room."""
        return protocol.encode(event["message"])

    @fastlane
    def chat_presence(event):
        """Users who came or went."""
        return protocol.encode({**event, "type": "presence"})

    async def chat_typing(self, event):
        """Someone else is typing."""
        if event["user"] != self.name:
            await self.reply({**event, "type": "typing"})

    # Events of the channel layer itself.

    async def layer_outage(self, event):
        """Redis is unreachable: live delivery reaches this worker's members only."""
        await self.reply(protocol.DEGRADED)

    async def layer_restored(self, event):
        """Redis is back, and this worker's rooms with it."""
        await self.reply(protocol.RESTORED)


def chat_name(user, query_string):
    """The name this connection chats under, or None if it has none it may use.

    A logged-in user chats as themselves; an anonymous client, where allowed,
    names itself with ?name=, which may not be a registered user's name.
    """
    if user.is_authenticated:
        return user.username
    if not settings.CHAT_ALLOW_ANONYMOUS:
        return None
    name = protocol.name_from_query(query_string or b"")
    if name is None or name in protocol.RESERVED_NAMES:
        return None
    if get_user_model().objects.filter(username=name).exists():
        return None
    return name
