"""The chat client for Python services: one connection to /ws/chat/ and every
client rule of docs/chat-protocol.md, on the ``websockets`` library.

    async with ChatClient("ws://127.0.0.1:8000/ws/chat/?name=bot") as client:
        room = await client.join("lobby")
        room.on("event", print)
        stored_id = await room.send("hello")

It is the JavaScript client's twin (clients/js/src/chat-client.js): the same
states, the same reconnection and resume, the same requests as awaitables.
A request is answered by the reply, ack or error naming its ``client_id``; a
message is kept until the server confirms it stored it, and sent again after
every reconnect. It imports nothing of the server's: another service needs
only this module and ``websockets``.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import random
import urllib.error
import urllib.request
import uuid

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

logger = logging.getLogger(__name__)

CONNECTING = "connecting"
OPEN = "open"
DEGRADED = "degraded"  # open, but Redis is down: live delivery may lag
RETRYING = "closed-will-retry"
STOPPED = "stopped"

# Close codes after which reconnecting cannot help (docs/chat-protocol.md);
# every other close, a dropped connection (1006) included, is retried.
# tests/test_python_client.py holds them to chat/protocol.py's table.
FINAL_CLOSES = {
    1000: "closed",
    1007: "invalid_utf8",
    1009: "too_big",
    3000: "signed_out",
    4001: "invalid_name",
}
# Refusals after which a message is sent again, and how long after.
RESEND_ERRORS = {"rate_limited", "unavailable"}
RESEND_AFTER_SECONDS = 1.0
TYPING_EVERY_SECONDS = 2.0  # the server's CHAT_TYPING_INTERVAL
THREAD_LATEST = 2  # the server's CHAT_THREAD_LATEST: replies a root previews
# A rejoin refused with these is tried again; with these, the room is gone.
REJOIN_AGAIN = {"timeout", "unavailable", "rate_limited"}
ROOM_GONE = {"forbidden", "banned", "unknown_room"}
REMOVED = {"banned", "removed", "departed"}
LISTED = {"message", "member"}  # the events a room lists; the rest change them
_numbers = itertools.count(1)


def retry_ceiling(attempt, first=0.5, last=30.0):
    """The delay before attempt ``attempt`` (0 first): doubling from
    ``first`` up to ``last``."""
    return min(last, first * 2**attempt)


def retry_delay(attempt, first=0.5, last=30.0):
    """Back-off before attempt ``attempt``: a random point in the upper half
    of its ceiling ("equal jitter"), so that the clients of a worker that
    died do not come back in step."""
    ceiling = retry_ceiling(attempt, first, last)
    return ceiling / 2 + random.random() * ceiling / 2


def new_client_id():
    return f"p-{uuid.uuid4().hex[:12]}-{next(_numbers)}"


async def upload(base_url, session, room, name, data):
    """Upload the bytes ``data`` as file ``name`` into ``room`` for a message
    to refer to, as the signed-in user of ``session`` (their sessionid
    cookie), to the service at ``base_url`` (http://host:port): the file as a
    message's ``files`` lists it. A refusal raises ChatError with its code
    (file_too_large, type_not_allowed, forbidden...)."""
    return await asyncio.to_thread(_post_file, base_url, session, room, name, data)


def _post_file(base_url, session, room, name, data):
    boundary = uuid.uuid4().hex
    quoted = (
        name.replace("\\", "_").replace('"', "_").replace("\r", "").replace("\n", "")
    )
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="room"\r\n\r\n'
            f"{room}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{quoted}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    # Django's CSRF check compares a cookie with a header: a client that is no
    # browser sets both (a page across origins can set neither).
    token = uuid.uuid4().hex
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/files",
        data=body,
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": f"sessionid={session}; csrftoken={token}",
            "X-CSRFToken": token,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as refused:
        try:
            answer = json.loads(refused.read())
        except ValueError:
            answer = {"error": f"http_{refused.code}", "detail": refused.reason}
        raise ChatError(answer["error"], answer["detail"]) from None


class ChatError(Exception):
    """A refusal: the protocol's error code, or the client's own ("timeout",
    "disconnected", "stopped", "removed")."""

    def __init__(self, code, detail, ref=None):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.ref = code, detail, ref


class Emitter:
    def __init__(self):
        self._listeners = {}

    def on(self, kind, listener):
        """Call ``listener`` for each ``kind`` event; returns what stops it."""
        self._listeners.setdefault(kind, []).append(listener)
        return lambda: self._listeners[kind].remove(listener)

    def emit(self, kind, detail=None):
        # A listener that fails is reported, as a browser reports one of an
        # EventTarget's; the client and the other listeners go on.
        for listener in list(self._listeners.get(kind, ())):
            try:
                listener(detail)
            except Exception:
                logger.exception("a %r listener failed", kind)


class _Pending:
    def __init__(self, future, room=None, resend=False):
        self.future, self.room, self.resend = future, room, resend


class ChatClient(Emitter):
    """``url`` is the endpoint, a list to try in turn, or a function of the
    attempt number; ``user`` is who this client chats as (its own messages
    are not unread); ``headers`` go with the handshake (a session cookie)."""

    def __init__(
        self,
        url,
        *,
        user=None,
        headers=(),
        request_timeout=10.0,
        first_retry=0.5,
        last_retry=30.0,
    ):
        super().__init__()
        self.url, self.user, self.headers = url, user, list(headers)
        self.request_timeout = request_timeout
        self.retry = (first_retry, last_retry)
        self.state = STOPPED
        self.rooms = {}  # name -> Room, for every room joined
        self.listing = {}  # name -> the rooms reply's entry, kept up to date
        self.start_room = None
        self.attempts = 0  # since the last connection that got an answer
        self.pending = {}  # client_id -> _Pending
        self._outgoing = None  # this connection's queue: one writer sends in order
        self._task = None
        self._changed = asyncio.Event()  # set at each state change
        self._background = set()  # requests made on no caller's behalf

    async def __aenter__(self):
        self.connect()
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def connect(self):
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def close(self):
        """Close for good: nothing more is sent, pending requests are refused."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.state != STOPPED:
            self._stop(1000, "closed")

    async def wait_for(self, *states):
        """Until the state is one of ``states``; the state."""
        while self.state not in states:
            self._changed.clear()
            await self._changed.wait()
        return self.state

    def _endpoint(self):
        if callable(self.url):
            return self.url(self.attempts)
        if isinstance(self.url, (list, tuple)):
            return self.url[self.attempts % len(self.url)]
        return self.url

    async def _run(self):
        while True:
            self._set_state(CONNECTING)
            code = 1006
            try:
                async with websockets.connect(
                    self._endpoint(), additional_headers=self.headers, max_size=None
                ) as websocket:
                    await self._converse(websocket)
                code = websocket.close_code or 1006
            except (OSError, InvalidHandshake, TimeoutError):
                code = 1006
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
            self._outgoing = None
            for room in self.rooms.values():
                room._left()
            self._refuse(lambda entry: not entry.resend, "disconnected", "it closed")
            if code in FINAL_CLOSES:
                self._stop(code, FINAL_CLOSES[code])
                return
            delay = retry_delay(self.attempts, *self.retry)
            self.attempts += 1
            self._set_state(RETRYING, code=code, delay=delay)
            await asyncio.sleep(delay)

    async def _converse(self, websocket):
        self._outgoing = asyncio.Queue()
        writer = asyncio.create_task(self._write(websocket, self._outgoing))
        try:
            self._set_state(OPEN)
            self.send_raw({"type": "rooms"})
            for room in self.rooms.values():
                room._rejoin()
            async for text in websocket:
                self._receive(json.loads(text))
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _write(self, websocket, outgoing):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await websocket.send(await outgoing.get())

    def _set_state(self, state, **detail):
        self.state = state
        self._changed.set()
        self.emit("state", {"state": state, **detail})

    def _stop(self, code, reason):
        self._refuse(lambda entry: True, "stopped", "the client stopped")
        for room in self.rooms.values():
            room._left()
        self._set_state(STOPPED, code=code, reason=reason)

    def send_raw(self, message):
        """Send a message as it is, if connected; whether it was."""
        if self._outgoing is None:
            return False
        self._outgoing.put_nowait(json.dumps(message))
        return True

    async def request(self, kind, **fields):
        """Send a request and wait for its answer: the reply or the ack; a
        refusal raises ChatError with the protocol's error code ("timeout"
        after ``request_timeout`` seconds, "disconnected" if the connection
        closed first)."""
        client_id = new_client_id()
        if not self.send_raw({"type": kind, **fields, "client_id": client_id}):
            raise ChatError("disconnected", "not connected")
        entry = _Pending(asyncio.get_running_loop().create_future())
        self.pending[client_id] = entry
        try:
            async with asyncio.timeout(self.request_timeout):
                return await entry.future
        except TimeoutError:
            raise ChatError("timeout", f"no answer to {kind}", client_id) from None
        finally:
            self.pending.pop(client_id, None)

    async def _post(self, room, fields):
        client_id = new_client_id()
        entry = _Pending(asyncio.get_running_loop().create_future(), room, True)
        self.pending[client_id] = entry
        room.unsent[client_id] = fields
        room._send_unsent(client_id)
        try:
            return await entry.future
        finally:  # cancelled too (asyncio.timeout): it is not sent again
            self.pending.pop(client_id, None)
            room.unsent.pop(client_id, None)

    def _settle(self, ref, value=None, error=None):
        entry = self.pending.pop(ref, None)
        if entry is None or entry.future.done():
            return entry is not None
        if entry.room is not None:
            entry.room.unsent.pop(ref, None)
        if error is not None:
            entry.future.set_exception(error)
        else:
            entry.future.set_result(value)
        return True

    def _refuse(self, which, code, detail):
        for ref, entry in list(self.pending.items()):
            if which(entry):
                self._settle(ref, error=ChatError(code, detail, ref))

    async def join(self, name):
        """Join a room (made if public and new); its Room, once joined: at
        once if connected, else once the connection opens."""
        room = self.room(name)
        if room.joined:
            return room
        room.wanted = True
        if self._outgoing is not None:
            await self.request("join", **room._since())
            return room
        entered = asyncio.ensure_future(room._entered.wait())
        stopped = asyncio.ensure_future(self.wait_for(STOPPED))
        try:
            await asyncio.wait([entered, stopped], return_when="FIRST_COMPLETED")
        finally:
            entered.cancel()
            stopped.cancel()
        if not room.joined:
            raise ChatError("stopped", "the client stopped")
        return room

    async def direct(self, user):
        """The private room of this user and ``user``."""
        return self.room((await self.request("direct", user=user))["room"])

    async def create(self, name, private=False):
        reply = await self.request("create", room=name, private=private)
        return self.room(reply["room"])

    async def leave(self, name):
        room = self.rooms.pop(name, None)
        if room is not None and room.joined:
            await self.request("leave", room=name)

    async def refresh_rooms(self):
        return await self.request("rooms")

    async def search(self, query, cursor=None, limit=None):
        """Messages matching ``query`` in the rooms this user may read, newest
        first; the reply's ``next`` is the ``cursor`` of the following page."""
        fields = {"query": query}
        if cursor is not None:
            fields["cursor"] = cursor
        if limit is not None:
            fields["limit"] = limit
        return await self.request("search", **fields)

    async def notifications(self, email=None):
        """Whether this user is emailed what they miss while away: sets it
        with ``email`` (True or False), asks without; the reply."""
        fields = {} if email is None else {"email": email}
        return await self.request("notifications", **fields)

    def room(self, name):
        """The Room of ``name``, made (not joined) if new: listen before joining."""
        if name not in self.rooms:
            self.rooms[name] = Room(self, name)
        return self.rooms[name]

    def _receive(self, message):
        if message["type"] == "error":
            self._refused(message)
            return
        receiver = RECEIVERS.get(message["type"])
        if receiver is not None:
            receiver(self, message, self.rooms.get(message.get("room")))
        # A message's answer is the message itself, once its room applied it;
        # its ack says only that it is stored.
        entry = self.pending.get(message.get("ref"))
        kept = entry is not None and entry.resend and message["type"] == "ack"
        if kept and isinstance(message.get("id"), int):
            entry.room._stored(message["id"])
        if entry is not None and not kept:
            self._settle(message["ref"], message)

    def _listed(self, message):
        self.attempts = 0
        self.listing = {r["name"]: r for r in message["rooms"] + message["direct"]}
        self.start_room = message["start"]
        self.emit("rooms", self.listing)

    def _restored(self, message):
        self._set_state(OPEN, detail=message["detail"])
        for room in self.rooms.values():
            room._catch_up()

    def _refused(self, message):
        ref = message.get("ref")
        error = ChatError(message["code"], message["detail"], ref)
        entry = self.pending.get(ref)
        if entry is not None and entry.resend and message["code"] in RESEND_ERRORS:
            asyncio.get_running_loop().call_later(
                RESEND_AFTER_SECONDS, entry.room._send_unsent, ref
            )
            return
        if not (ref and self._settle(ref, error=error)):
            self.emit("error", error)

    def _read(self, message):
        room = self.rooms.get(message["room"])
        self.emit("read", message)
        if message["user"] != self.user:
            if room is not None:
                room.seen[message["user"]] = message["id"]
                room.emit("seen", room.seen)
            return
        if message["unread"] is None:
            return
        if room is not None:
            room.read = max(room.read, message["id"])
        entry = self.listing.get(message["room"], {"name": message["room"]})
        self.listing[message["room"]] = {
            **entry,
            "read": message["id"],
            "unread": message["unread"],
            "mentions": message["mentions"],
        }

    def _removed(self, message):
        room = self.rooms.pop(message["room"], None)
        self.listing.pop(message["room"], None)
        if room is not None:
            room.joined = False
            self._refuse(lambda entry: entry.room is room, "removed", "removed")
        self.emit("removed", message)


class Room(Emitter):
    """What the client holds of one room: every event up to ``last_id``
    applied once and in order, none above it."""

    def __init__(self, client, name):
        super().__init__()
        self.client, self.name = client, name
        self.last_id = 0
        self.epoch = None
        self.items = {}  # id -> message or member event
        self.waiting = {}  # id -> event received above a gap
        self.unsent = {}  # client_id -> the message's fields, until stored
        self.online = set()
        self.seen = {}
        self.members = None
        self.joined = self.repairing = False
        self.wanted = False  # joined, or asked to be: joined again on reconnecting
        self._entered = asyncio.Event()  # set by each joined reply
        self.private = self.muted = False
        self.role = None
        self.read = 0
        self.lowest = None
        self.typed_at = -1e9

    def list(self):
        """The messages and member events held, oldest first."""
        return [self.items[key] for key in sorted(self.items)]

    @property
    def oldest(self):
        """The lowest id held, or the next one holding none."""
        return self.lowest if self.lowest is not None else self.last_id + 1

    async def send(self, text, reply_to=None, files=()):
        """Post ``text`` (into the thread of message ``reply_to``, with the
        uploads ``files``: ids from ``upload``); the stored message, once this
        room has applied it, however many reconnects that takes. To give up,
        cancel it (``asyncio.timeout``): it is not sent again."""
        fields = {"text": text}
        if reply_to is not None:
            fields["reply_to"] = reply_to
        if files:
            fields["files"] = list(files)
        return await self.client._post(self, fields)

    async def thread(self, id, after=None, limit=None):
        """A page of the thread of message ``id``, oldest first (after the
        reply ``after``); its replies are held with the room's messages."""
        fields = {"id": id}
        if after is not None:
            fields["after"] = after
        if limit is not None:
            fields["limit"] = limit
        return await self._ask("thread", **fields)

    def replies(self, id):
        """The replies held of the thread of message ``id``, oldest first."""
        return [m for m in self.list() if m.get("reply_to") == id]

    async def edit(self, id, text):
        return await self._ask("edit", id=id, text=text)

    async def delete(self, id):
        return await self._ask("delete", id=id)

    async def react(self, id, emoji):
        return await self._ask("react", id=id, emoji=emoji)

    async def mark_read(self, id=None):
        return await self._ask("read", id=self.last_id if id is None else id)

    async def load_older(self, limit=50):
        return await self._ask("history", before=self.oldest, limit=limit)

    async def load_members(self):
        return await self._ask("members")

    async def moderate(self, action, user, role=None):
        """invite, remove, ban, unban, mute, unmute, or role (with ``role``)."""
        fields = {"user": user} if role is None else {"user": user, "role": role}
        return await self._ask(action, **fields)

    async def depart(self):
        return await self._ask("depart")

    def typed(self):
        """Say "typing", at most once every TYPING_EVERY_SECONDS."""
        now = asyncio.get_running_loop().time()
        if now - self.typed_at >= TYPING_EVERY_SECONDS:
            self.typed_at = now
            self.client.send_raw({"type": "typing", "room": self.name})

    async def _ask(self, kind, **fields):
        return await self.client.request(kind, room=self.name, **fields)

    def _since(self):
        # A room joined before asks for all after what it holds, 0 included:
        # the newest page alone could pass over a message of ours still unsent.
        if self.epoch is None:
            return {"room": self.name}
        return {"room": self.name, "since": self.last_id, "epoch": self.epoch}

    def _rejoin(self):
        if self.wanted:
            self._in_background(self._join_again())

    async def _join_again(self):
        try:
            await self.client.request("join", **self._since())
        except ChatError as error:
            # Not answered in time, or refused for now: again, on this
            # connection. Refused for good: the room is gone. (A closed
            # connection rejoins anew.)
            if error.code in REJOIN_AGAIN:
                await asyncio.sleep(RESEND_AFTER_SECONDS)
                if self.client._outgoing is not None and not self.joined:
                    self._rejoin()
            elif error.code in ROOM_GONE:
                reason = "banned" if error.code == "banned" else "removed"
                removal = {"type": "removed", "room": self.name, "reason": reason}
                self.client._removed({**removal, "by": None})

    def _in_background(self, request):
        """Run a request nobody awaits (a rejoin, a repair), kept referenced
        until it ends; its refusal is only logged."""
        task = asyncio.ensure_future(request)
        self.client._background.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task):
        self.client._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("%s: %r", self.name, task.exception())

    def _joined(self, reply):
        if reply.get("reset"):
            # Another history under the same ids: drop all that was held of it.
            self.last_id, self.lowest = 0, None
            self.items.clear()
            self.waiting.clear()
            self.emit("reset", self)
        self.joined = self.wanted = True
        self._entered.set()
        self.epoch, self.private = reply["epoch"], reply["private"]
        self.role, self.muted = reply["role"], reply["muted"]
        self.seen = reply.get("seen") or {}
        if reply.get("read") is not None:
            self.read = max(self.read, reply["read"])
        self.online = set(reply["members"])
        if self.last_id == 0 and not self.items:
            # Holding nothing, this room starts where the page (or what came
            # before it) starts. Only here: a live event that overtook an
            # earlier one (from another worker) waits for it.
            starts = [event["id"] for event in reply["messages"]] + list(self.waiting)
            if starts:
                self.last_id = min(starts) - 1
        self._accept(reply["messages"], reply["last_id"])
        for client_id in list(self.unsent):
            self._send_unsent(client_id)
        self.emit("joined", reply)

    def _left(self):
        """The connection this room was joined on is gone."""
        self.joined = False
        self._entered.clear()

    def _send_unsent(self, client_id):
        fields = self.unsent.get(client_id)
        if fields is not None and self.joined:
            message = {"type": "message", "room": self.name, **fields}
            self.client.send_raw({**message, "client_id": client_id})

    def _history(self, reply):
        self.repairing = False
        self._accept(reply["messages"], reply["last_id"])

    def _thread(self, reply):
        self._accept([reply["root"], *reply["replies"]], None)

    def _catch_up(self):
        if self.joined:
            self._repair()

    def _stored(self, id):
        """A message of ours was stored as ``id``: its event should follow. If
        it has not come a moment later (its broadcast was lost with a Redis
        node, and no later event shows the gap), history brings it."""

        def check():
            if self.joined and self.last_id < id and not self.repairing:
                self._repair()

        asyncio.get_running_loop().call_later(RESEND_AFTER_SECONDS, check)

    def _repair(self):
        self.repairing = True

        async def ask():
            try:
                await self.client.request("history", room=self.name, after=self.last_id)
            except ChatError as error:
                # Unanswered, or refused for now: asked again, so that what a
                # gap hides does not wait for the next event to show it.
                self.repairing = False
                if error.code in REJOIN_AGAIN:
                    await asyncio.sleep(RESEND_AFTER_SECONDS)
                    if self.joined and not self.repairing:
                        self._repair()

        self._in_background(ask())

    def _accept(self, events, last_id):
        """Apply each new id once, in order; older history goes above."""
        older = False
        for event in events:
            if event["id"] > self.last_id:
                self.waiting[event["id"]] = event
            elif event["id"] not in self.items and event["type"] in LISTED:
                self._hold(event)
                older = True
        while self.last_id + 1 in self.waiting:
            self.last_id += 1
            self._apply(self.waiting.pop(self.last_id))
        if last_id is not None and last_id > self.last_id:
            if not self.items and not self.waiting:
                self.last_id = last_id  # an empty page: nothing to continue from
        highest = max([last_id or 0, *self.waiting])
        if highest > self.last_id and not self.repairing and self.joined:
            self._repair()
        if older:
            self.emit("older", self)

    def _hold(self, event):
        self.items[event["id"]] = event
        if self.lowest is None or event["id"] < self.lowest:
            self.lowest = event["id"]

    def _apply(self, event):
        # Each change sets a value, so one the message already reflects changes nothing.
        kind = event["type"]
        if kind in LISTED:
            self._hold(event)
            if kind == "message":
                self._count_reply(event, 1)
                if event.get("client_id"):
                    self.client._settle(event["client_id"], event)
            elif event["user"] == self.client.user:
                self._my_standing(event)
            self.emit("event", event)
            return
        target = self.items.get(event["target"])
        if target is None:
            return  # a change to a message older than this room holds
        if kind == "edit":
            target.update(text=event["text"], html=event.get("html", ""), edited=True)
        elif kind == "delete":
            if not target.get("deleted"):
                self._count_reply(target, -1)
            target.update(text="", html="", deleted=True, edited=False, reactions={})
        elif kind == "reaction":
            reactions = dict(target.get("reactions") or {})
            if event["users"]:
                reactions[event["emoji"]] = event["users"]
            else:
                reactions.pop(event["emoji"], None)
            target["reactions"] = reactions
        self.emit("change", {"event": event, "message": target})

    def _count_reply(self, message, change):
        """A reply arrived or was deleted: its root's summary says so."""
        root = self.items.get(message.get("reply_to"))
        if root is None:
            return
        summary = dict(root.get("thread") or {"replies": 0, "latest": []})
        if change > 0 and (summary.get("last_id") or 0) >= message["id"]:
            return  # the root came with a summary that counts it
        summary["replies"] += change
        latest = [r for r in summary["latest"] if r["id"] != message["id"]]
        if change > 0:
            latest.append({k: message[k] for k in ("id", "author", "text", "ts")})
        summary["latest"] = latest[-THREAD_LATEST:]
        summary["last_id"] = latest[-1]["id"] if latest else None
        root["thread"] = summary if summary["replies"] > 0 else None
        self.emit("change", {"event": message, "message": root})

    def _my_standing(self, event):
        action = event["action"]
        if action in ("muted", "unmuted"):
            self.muted = action == "muted"
        elif action == "role":
            self.role = event["role"]
        elif action in REMOVED:
            self.joined = False

    def _presence(self, message):
        self.online |= set(message["joined"])
        self.online -= set(message["left"])
        self.emit("presence", message)

    def _typing(self, message):
        self.emit("typing", message["user"])

    def _members(self, message):
        self.members = message["members"]
        self.emit("members", self.members)


def _event(client, message, room):
    if room is not None:
        room._accept([message], None)


def _joined(client, message, room):
    client.attempts = 0
    client.room(message["room"])._joined(message)


def _for_room(method):
    def receive(client, message, room):
        if room is not None:
            getattr(room, method)(message)

    return receive


def _emitted(client, message, room):
    client.emit(message["type"], message)


def _settled_by_ref(client, message, room):
    """Nothing to do but settle the request it names."""


# What the client does with each type the server sends (every one of
# chat/protocol.py's SERVER_TYPES: tests/test_python_client.py checks). A
# message naming a request's client_id as ref also settles it; errors are
# matched to their request before this table.
RECEIVERS = {
    "joined": _joined,
    "message": _event,
    "edit": _event,
    "delete": _event,
    "reaction": _event,
    "member": _event,
    "history": _for_room("_history"),
    "thread": _for_room("_thread"),
    "rooms": lambda client, message, room: client._listed(message),
    "presence": _for_room("_presence"),
    "typing": _for_room("_typing"),
    "members": _for_room("_members"),
    "read": lambda client, message, room: client._read(message),
    "removed": lambda client, message, room: client._removed(message),
    "invited": _emitted,
    "notice": _emitted,
    "degraded": lambda client, message, room: client._set_state(
        DEGRADED, detail=message["detail"]
    ),
    "restored": lambda client, message, room: client._restored(message),
    "left": _settled_by_ref,
    "search": _settled_by_ref,
    "notifications": _settled_by_ref,
    "ack": _settled_by_ref,
    "error": _settled_by_ref,
}
