"""The chat consumer: rooms (public, private, direct), members and
moderation, messages and changes to them, read state, history, presence and
typing.

Read it top to bottom: connect, receive (which hands each message type to the
method marked ``@handles`` for it), disconnect, the client's types in the
protocol's order, then the group events. Every message, and every change to
one or to a room's members, is stored before it is broadcast and carries its
room's next id, so a client that sees a gap, or reconnects, asks for what it
missed (``since``, ``history``). Who may do what is the database's to say
(chat/storage.py): a refusal comes back as the protocol's error.
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

from . import posting, protocol, search, storage
from .presence import presence_for, user_group
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
        if self.user.is_authenticated:
            # Where all of this user's chat connections hear of their read
            # positions, invitations and removals.
            self.own_group = user_group(self.user.pk)
            await self.channel_layer.group_add(self.own_group, self.channel_name)
            self.groups.append(self.own_group)
        await self.accept()
        if self.name is None:
            await self.reply(protocol.error(ProtocolError(protocol.INVALID_NAME)))
            close = protocol.CLOSE_INVALID_NAME
            await self.close(close.code, close.reason)

    async def receive(self, text_data=None, bytes_data=None):
        """Each handler returns its answer: a reply for the requester alone,
        or the id of the event it stored (None if none). A request with a
        ``client_id`` always hears back, naming it: its reply, an ack or an
        error; one without has only its reply."""
        ref = None
        try:
            if text_data is None:
                raise ProtocolError(protocol.BINARY_FRAME)
            message = protocol.parse(text_data, self.handlers)
            ref = protocol.request_id(message)
            answer = await self.handler_for(message["type"])(message)
        except ProtocolError as problem:
            if ref is None:
                ref = protocol.client_id_of(text_data)
            await self.reply(protocol.error(problem, ref))
            return
        if ref is not None or isinstance(answer, dict):
            await self.reply(protocol.answer(answer, ref))

    async def rate_limited(self, text_data, bytes_data):
        """Over the rate: this message is refused, and the client told which."""
        error = ProtocolError(protocol.RATE_LIMITED)
        await self.reply(protocol.error(error, protocol.client_id_of(text_data)))

    async def disconnect(self, code):
        for room in list(self.rooms.values()):
            await self.leave(room)

    # What a client may send: rooms.

    @handles("join")
    async def on_join(self, message):
        name = protocol.room_name(message)
        room = await db(storage.open_room)(name, self.user)
        return await self.enter(room, message)

    @handles("direct")
    async def on_direct(self, message):
        other = protocol.field(message, "user", str)
        room = await db(storage.open_direct_room)(self.user, other)
        return await self.enter(room, message)

    @handles("create")
    async def on_create(self, message):
        name = protocol.room_name(message)
        if protocol.is_direct(name):
            raise ProtocolError(
                protocol.INVALID_FIELD, "dm. names are for direct rooms"
            )
        private = protocol.field(message, "private", bool, required=False) or False
        room = await posting.written(storage.create_room, name, self.user, private)
        return await self.enter(room, {})

    @handles("leave")
    async def on_leave(self, message):
        room = self.joined(message)
        await self.leave(room)
        return {"type": "left", "room": room.name}

    @handles("notifications")
    async def on_notifications(self, message):
        """Whether to be emailed when away: set it (``email``), or ask."""
        if not self.user.is_authenticated:
            raise ProtocolError(protocol.LOGIN_REQUIRED)
        email = protocol.field(message, "email", bool, required=False)
        chosen = await db(storage.email_when_away)(self.user, email)
        return {"type": "notifications", "email": chosen}

    @handles("rooms")
    async def on_rooms(self, message):
        rooms = await db(storage.rooms_of)(self.user)
        return {
            "type": "rooms",
            "rooms": [r for r in rooms if not protocol.is_direct(r["name"])],
            "direct": [r for r in rooms if protocol.is_direct(r["name"])],
            "start": settings.CHAT_START_ROOM,
        }

    # Messages, and changes to them.

    @handles("message")
    async def on_message(self, message):
        room = self.joined(message)
        text = protocol.field(message, "text", str)
        client_id = protocol.field(message, "client_id", str, required=False)
        reply_to = protocol.field(message, "reply_to", int, required=False)
        files = protocol.field(message, "files", list, required=False) or []
        stored, new = await posting.store(
            room, self.name, self.user, text, client_id, reply_to, files
        )
        if new:
            await self.broadcast(room.group, posting.event(stored))
        else:
            await self.reply(stored)
        return stored["id"]

    @handles("edit")
    async def on_edit(self, message):
        room = self.joined(message)
        target = protocol.field(message, "id", int)
        text = protocol.field(message, "text", str)
        posting.check(text, None)
        return await self.change(storage.edit, room, self.name, self.user, target, text)

    @handles("delete")
    async def on_delete(self, message):
        room = self.joined(message)
        target = protocol.field(message, "id", int)
        return await self.change(storage.delete, room, self.name, self.user, target)

    @handles("react")
    async def on_react(self, message):
        room = self.joined(message)
        target = protocol.field(message, "id", int)
        emoji = protocol.field(message, "emoji", str)
        if not protocol.EMOJI.fullmatch(emoji):
            raise ProtocolError(protocol.INVALID_EMOJI)
        return await self.change(
            storage.react, room, self.name, self.user, target, emoji
        )

    async def change(self, making, room, *args):
        """Store a change as the room's next event, send it to the room; its id."""
        event = await posting.change(making, room, *args)
        await self.broadcast(room.group, posting.event(event))
        return event["id"]

    @handles("history")
    async def on_history(self, message):
        room = self.joined(message)
        before = protocol.field(message, "before", int, required=False)
        after = protocol.field(message, "after", int, required=False)
        limit = page_limit(message, settings.CHAT_HISTORY_PAGE)
        if (before is None) == (after is None):
            raise ProtocolError(protocol.INVALID_FIELD, "give one of before, after")
        last_id = await db(storage.last_seq)(room)
        if before is not None:
            messages = await db(storage.before)(room, before, limit)
        else:
            messages = await db(storage.after)(room, after, limit)
        return {
            "type": "history",
            "room": room.name,
            "messages": messages,
            "last_id": max([last_id] + [m["id"] for m in messages]),
        }

    @handles("thread")
    async def on_thread(self, message):
        room = self.joined(message)
        root = protocol.field(message, "id", int)
        after = protocol.field(message, "after", int, required=False)
        limit = page_limit(message, settings.CHAT_HISTORY_PAGE)
        return await db(storage.thread)(room, self.user, root, after, limit)

    @handles("search")
    async def on_search(self, message):
        query = protocol.field(message, "query", str)
        if len(query) > settings.CHAT_SEARCH_MAX_LENGTH:
            raise ProtocolError(
                protocol.TEXT_TOO_LONG,
                f"a search is at most {settings.CHAT_SEARCH_MAX_LENGTH} characters",
            )
        cursor = protocol.field(message, "cursor", int, required=False)
        limit = page_limit(message, settings.CHAT_SEARCH_PAGE)
        return await db(search.search)(self.user, query, cursor, limit)

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

    # Read positions: shared by the user's connections, and in a direct room
    # seen by the other person.

    @handles("read")
    async def on_read(self, message):
        room = self.joined(message)
        seq = protocol.field(message, "id", int)
        marked = await posting.written(storage.mark_read, room, self.user, seq)
        seq, unread, mentions = marked
        read = {
            "type": "chat.read",
            "room": room.name,
            "user": self.name,
            "id": seq,
            "unread": unread,
            "mentions": mentions,
        }
        await self.broadcast(self.own_group, read)
        if protocol.is_direct(room.name):
            await self.broadcast(room.group, {**read, "unread": None, "mentions": None})
        return seq

    # Members and moderation.

    @handles("members")
    async def on_members(self, message):
        room = await self.readable(message)
        members = await db(storage.members)(room)
        return {"type": "members", "room": room.name, "members": members}

    @handles(*protocol.MEMBER_ACTIONS)
    async def on_member_action(self, message):
        room = await self.readable(message)
        if not self.user.is_authenticated:
            raise ProtocolError(protocol.LOGIN_REQUIRED)
        username = protocol.field(message, "user", str)
        role = protocol.field(message, "role", str, required=message["type"] == "role")
        event, user = await posting.written(
            storage.change_member, room, self.user, message["type"], username, role
        )
        await self.broadcast(room.group, posting.event(event.wire(room.name)))
        told = MEMBER_TOLD.get(event.data["action"])
        if told is not None:
            await self.tell(user.pk, told, room, event.data["action"])
        return event.seq

    @handles("depart")
    async def on_depart(self, message):
        room = await self.readable(message)
        if not self.user.is_authenticated:
            raise ProtocolError(protocol.LOGIN_REQUIRED)
        event = await posting.written(storage.depart, room, self.user)
        await self.broadcast(room.group, posting.event(event.wire(room.name)))
        await self.tell(self.user.pk, "chat.removed", room, "departed")
        return event.seq

    async def tell(self, user_id, event_type, room, reason):
        """Tell every chat connection of a user what this one did to them."""
        event = {"type": event_type, "room": room.name, "by": self.name}
        await self.broadcast(user_group(user_id), {**event, "reason": reason})

    async def readable(self, message):
        """The room a message names, if this user may read it."""
        if protocol.room_name(message) in self.rooms:
            return self.rooms[message["room"]]
        room = await db(storage.existing_room)(message["room"])
        if room is None:
            raise ProtocolError(protocol.UNKNOWN_ROOM)
        await db(storage.may_read)(room, self.user)
        return room

    # Joining and leaving a room.

    async def enter(self, room, message):
        """Join ``room``'s group (so that nothing sent from now on is missed),
        announce this user if they were not there; the answer, ``joined``, has
        the members and the history: the newest events, or those after ``since``
        (unless the room's epoch says that history is not the one the client
        had: then ``reset`` and the newest). Events may arrive before
        ``joined``; their ids order them.
        """
        since = protocol.field(message, "since", int, required=False)
        epoch = protocol.field(message, "epoch", str, required=False)
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
        standing = await db(storage.standing)(room, self.user)
        reset = since is not None and (
            (epoch is not None and epoch != standing["epoch"])
            or since > standing["last_id"]
        )
        if since is None or reset:
            messages = await db(storage.latest)(room, settings.CHAT_HISTORY_LATEST)
        else:
            messages = await db(storage.after)(room, since, settings.CHAT_HISTORY_PAGE)
        last_id = max([standing.pop("last_id")] + [m["id"] for m in messages])
        return {
            "type": "joined",
            "room": room.name,
            "members": await self.presence_of(
                self.presence.members(room.group), unknown=[self.name]
            ),
            "messages": messages,
            "last_id": last_id,
            "reset": reset,
            **standing,
        }

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

    async def chat_read(self, event):
        """This user read up to an id (any of their connections), or in a
        direct room the other person did."""
        await self.reply({**event, "type": "read"})

    async def chat_invited(self, event):
        """This user was made a member of a private room."""
        await self.reply({"type": "invited", "room": event["room"], "by": event["by"]})

    async def chat_removed(self, event):
        """This user is no longer in a room (removed, banned, or departed on
        another connection): it stops receiving its events here at once."""
        room = self.rooms.get(event["room"])
        if room is not None:
            await self.leave(room)
        await self.reply({**event, "type": "removed"})

    # Events of the channel layer itself.

    async def layer_outage(self, event):
        """Redis is unreachable: live delivery reaches this worker's members only."""
        await self.reply(protocol.DEGRADED)

    async def layer_restored(self, event):
        """Redis is back, and this worker's rooms with it. A removal or ban
        sent while it was away may never have reached this connection, so
        each room is kept only if this user still may read it; the events
        that wait behind this one are for the rooms kept."""
        for room in list(self.rooms.values()):
            try:
                await posting.written(storage.may_read, room, self.user)
            except ProtocolError as refusal:
                if refusal.error is protocol.UNAVAILABLE:
                    # Nothing can vouch for the rooms: rejoining will.
                    close = protocol.TRY_AGAIN_LATER
                    await self.close(close.code, close.reason)
                    return
                await self.leave(room)
                by = await db(storage.taken_out_by)(room, self.user)
                reason = "banned" if refusal.error is protocol.BANNED else "removed"
                removed = {"type": "removed", "room": room.name, "reason": reason}
                await self.reply({**removed, "by": by or protocol.SYSTEM_AUTHOR})
        await self.reply(protocol.RESTORED)

    async def dispatch(self, message):
        # A room's events that were waiting when this connection left it
        # (removed, banned, or found so once Redis was back) go nowhere.
        if message["type"] in ROOM_EVENTS and room_of(message) not in self.rooms:
            return
        await super().dispatch(message)


# Events that reach a connection through a room's group, for that room only.
ROOM_EVENTS = {"chat.message", "chat.presence", "chat.typing"}


def room_of(event):
    return event["message"]["room"] if "message" in event else event["room"]


# What a user acted on hears of it on all their connections.
MEMBER_TOLD = {
    "invited": "chat.invited",
    "removed": "chat.removed",
    "banned": "chat.removed",
}


def page_limit(message, page):
    """A request's ``limit``, kept within 1 and ``page``; ``page`` if absent."""
    limit = protocol.field(message, "limit", int, required=False)
    return page if limit is None else max(1, min(limit, page))


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
