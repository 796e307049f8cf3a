"""A terminal chat client for /ws/chat/.

    python -m chat.client ws://127.0.0.1:8000/ws/chat/ --room lobby --name alice
    python -m chat.client ws://127.0.0.1:8000/ws/chat/ --room lobby --session KEY

Each line typed is sent to the room; ``/quit`` (or the end of the input) leaves.
It prints the room's history, then every message with its id, time and
author, each change to one (edits, deletions, reactions), who joins, leaves,
types, and what moderators do. Lines starting with ``/`` are commands
(``/help`` lists them: edit, delete, react, read, rooms, members, and the
moderators' invite, remove, ban, mute, mod...). When the connection drops it
reconnects with back-off and joins with ``since`` and the room's epoch, so
nothing is missed or shown twice; a line sent but not yet seen stored is sent
again with the same ``client_id``, which the server stores once
(docs/chat-protocol.md).
"""

import argparse
import asyncio
import contextlib
import json
import random
import sys
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chat import protocol
from server.operations.terminal import read_lines

# Reconnection back-off: doubles from the first delay up to the last, with
# jitter so that the clients of a worker that died do not return in step
# (the page's rule too; bench/storm.py measures it).
FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 30.0
# At the end of the input, how long to wait for the lines still unconfirmed.
DRAIN_SECONDS = 10.0
RETRY_CODES = {code.code for code in protocol.CLOSE_CODES if code.retry} | {1006}
# Errors after which a line is sent again, and how long after.
RESEND_ERRORS = {protocol.RATE_LIMITED.code, protocol.UNAVAILABLE.code}
RESEND_SECONDS = 1.0


def parse(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m chat.client", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", help="the chat endpoint, ws://host:port/ws/chat/")
    parser.add_argument("--room", default="lobby")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", help="chat anonymously under this name")
    who.add_argument("--session", help="a logged-in user's sessionid cookie")
    return parser.parse_args(argv)


def endpoint(options):
    if not options.name:
        return options.url
    scheme, netloc, path, query, _ = urlsplit(options.url)
    query = "&".join(filter(None, [query, urlencode({"name": options.name})]))
    return urlunsplit((scheme, netloc, path, query, ""))


def retry_pause(delay):
    """How long to wait before the next attempt: "equal jitter", a random
    point in the second half of ``delay``."""
    return delay * random.uniform(0.5, 1.0)


def next_retry_delay(delay):
    return min(delay * 2, LAST_RETRY_SECONDS)


class Room:
    """What the client has shown of one room: ids count up from 1 with no gaps,
    so everything up to ``last_id`` has been shown and nothing above it."""

    def __init__(self, name, out):
        self.name = name
        self.out = out
        self.last_id = None  # None until the first join
        self.epoch = None  # the history last_id counts in
        self.early = {}  # id: message, received above a gap
        self.pending = {}  # client_id: text, sent and not yet seen stored
        self.newest = 0  # the room's last id, as the server last said
        self.asked_after = None  # the gap a history request is out for
        self.all_confirmed = asyncio.Event()  # set when pending empties

    def show(self, line):
        print(line, file=self.out, flush=True)

    def joined(self, reply):
        if reply.get("reset") and self.last_id is not None:
            self.show(f"* {self.name}'s history was reset (restored or made again)")
            self.last_id, self.early, self.newest = None, {}, 0
        self.epoch = reply.get("epoch")
        if self.last_id is None:
            messages = reply["messages"]
            self.last_id = messages[0]["id"] - 1 if messages else reply["last_id"]
            members = ", ".join(reply["members"]) or "nobody"
            self.show(f"* joined {self.name}: {members} here")
        else:
            self.show(f"* rejoined {self.name}")
        self.asked_after = None
        self.history(reply)

    def history(self, reply):
        self.newest = max(self.newest, reply["last_id"])
        self.receive_all(reply["messages"])

    def receive_all(self, messages):
        for message in messages:
            self.receive(message)

    def receive(self, message):
        if self.last_id is None or message["id"] <= self.last_id:
            return
        self.newest = max(self.newest, message["id"])
        self.early[message["id"]] = message
        while self.last_id + 1 in self.early:
            self.last_id += 1
            self.display(self.early.pop(self.last_id))

    def display(self, event):
        if self.pending.pop(event.get("client_id"), None) and not self.pending:
            self.all_confirmed.set()
        time = event["ts"][11:19]
        kind = event["type"]
        if kind == "message":
            text = "(deleted)" if event["deleted"] else event["text"]
            edited = " (edited)" if event["edited"] else ""
            self.show(f"[{time}] #{event['id']} <{event['author']}> {text}{edited}")
        elif kind == "edit":
            self.show(
                f"* #{event['target']} edited by {event['author']}: {event['text']}"
            )
        elif kind == "delete":
            self.show(f"* #{event['target']} deleted by {event['by']}")
        elif kind == "reaction":
            users = ", ".join(event["users"]) or "nobody now"
            self.show(
                f"* {event['by']} reacted {event['emoji']} to #{event['target']}"
                f" ({event['emoji']} {users})"
            )
        elif kind == "member":
            role = f" {event['role']}" if event.get("role") else ""
            self.show(f"* {event['by']} {event['action']}{role}: {event['user']}")

    def gap(self):
        """The id to ask history ``after``, if a gap is open and not yet asked."""
        behind = self.last_id is not None and self.newest > self.last_id
        if behind and self.asked_after != self.last_id:
            self.asked_after = self.last_id
            return self.last_id
        return None


class ChatClient:
    def __init__(self, options, out=sys.stdout, stream=None):
        self.url = endpoint(options)
        self.me = options.name  # None for a logged-in user: the server knows
        self.headers = (
            [("Cookie", f"sessionid={options.session}")] if options.session else []
        )
        self.room = Room(options.room, out)
        self.lines = None
        self.stream = stream or sys.stdin.buffer
        self.input_ended = False
        self.resending = set()  # tasks that send a refused line again
        self.unconfirmed = []  # lines to send again once joined

    async def run(self):
        """Chat until the input ends or the server refuses us for good; the exit
        status is 0 when every line sent was stored."""
        self.lines = read_lines(self.stream)
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                async with websockets.connect(
                    self.url, additional_headers=self.headers, max_size=None
                ) as websocket:
                    delay = FIRST_RETRY_SECONDS
                    await self.converse(websocket)
                code = websocket.close_code
            except (OSError, InvalidHandshake, TimeoutError) as error:
                code = None
                self.room.show(f"* cannot connect: {error}")
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
            if self.input_ended:
                unconfirmed = len(self.room.pending)
                if unconfirmed:
                    self.room.show(f"* {unconfirmed} lines not confirmed stored")
                return 1 if unconfirmed else 0
            if code == protocol.SIGNED_OUT.code:
                self.room.show("* signed out: log in again for a new --session")
                return 1
            if code is not None and code not in RETRY_CODES:
                self.room.show(f"* closed by the server: {code}")
                return 1
            pause = retry_pause(delay)
            self.room.show(f"* disconnected ({code}); reconnecting in {pause:.1f} s")
            await asyncio.sleep(pause)
            delay = next_retry_delay(delay)

    async def converse(self, websocket):
        """One connection: join (with ``since`` after the first), resend what is
        unconfirmed, then relay lines out and messages in until it closes."""
        join = {"type": "join", "room": self.room.name}
        if self.room.last_id is not None:
            join.update(since=self.room.last_id, epoch=self.room.epoch)
        await websocket.send(json.dumps(join))
        unconfirmed = list(self.room.pending.items())
        receiving = asyncio.create_task(self.receive(websocket, unconfirmed))
        try:
            while not receiving.done():
                line = asyncio.create_task(self.next_line())
                await asyncio.wait([line, receiving], return_when="FIRST_COMPLETED")
                if not line.done():
                    line.cancel()
                    break
                text = line.result()
                if text is None:
                    self.input_ended = True
                    await self.drain(receiving)
                    await websocket.close()
                    break
                if text.startswith("/") and not text.startswith("//"):
                    await self.command(websocket, text)
                    continue
                text = text.removeprefix("/")
                client_id = uuid.uuid4().hex
                self.room.pending[client_id] = text
                await self.say(websocket, client_id, text)
        finally:
            receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)

    async def next_line(self):
        if self.input_ended:
            return None
        line = await self.lines.get()
        if line is None or line.strip() == b"/quit":
            return None
        return line.decode("utf-8", "replace")

    async def say(self, websocket, client_id, text):
        await websocket.send(
            json.dumps(
                {
                    "type": "message",
                    "room": self.room.name,
                    "text": text,
                    "client_id": client_id,
                }
            )
        )

    async def command(self, websocket, line):
        """A ``/command``: what it sends, or help."""
        word, _, rest = line[1:].strip().partition(" ")
        rest = rest.strip()
        message = command_message(word, rest, self.room)
        if message is None:
            self.room.show(COMMANDS_HELP)
            return
        await websocket.send(json.dumps({**message, "room": self.room.name}))

    def resend_later(self, websocket, client_id):
        async def resend():
            await asyncio.sleep(RESEND_SECONDS)
            text = self.room.pending.get(client_id)
            if text is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self.say(websocket, client_id, text)

        task = asyncio.create_task(resend())
        self.resending.add(task)
        task.add_done_callback(self.resending.discard)

    async def drain(self, receiving):
        """Wait until every line sent has been seen stored, or DRAIN_SECONDS."""
        if not self.room.pending:
            return
        self.room.all_confirmed.clear()
        confirmed = asyncio.create_task(self.room.all_confirmed.wait())
        await asyncio.wait(
            [confirmed, receiving], timeout=DRAIN_SECONDS, return_when="FIRST_COMPLETED"
        )
        confirmed.cancel()

    async def receive(self, websocket, unconfirmed):
        """Show what arrives; once joined, send ``unconfirmed`` lines again."""
        room = self.room
        self.unconfirmed = unconfirmed
        async for text in websocket:
            message = json.loads(text)
            if message.get("room", room.name) != room.name:
                continue
            handler = self.HANDLERS.get(message.get("type"))
            if handler is not None:
                await handler(self, websocket, message)
            after = room.gap()
            if after is not None:
                await self.ask_history(websocket, after)

    async def ask_history(self, websocket, after):
        request = {"type": "history", "room": self.room.name, "after": after}
        await websocket.send(json.dumps(request))

    # One handler per server message type (chat/protocol.py's SERVER_TYPES);
    # tests/test_chat_protocol_doc.py checks that the table covers them.

    async def on_joined(self, websocket, message):
        self.room.joined(message)
        for client_id, line in self.unconfirmed:
            if client_id in self.room.pending:
                await self.say(websocket, client_id, line)

    async def on_message(self, websocket, message):
        self.room.receive(message)

    async def on_history(self, websocket, message):
        self.room.history(message)

    async def on_presence(self, websocket, message):
        for user in message["joined"]:
            if user != self.me:
                self.room.show(f"* {user} joined")
        for user in message["left"]:
            if user != self.me:
                self.room.show(f"* {user} left")

    async def on_typing(self, websocket, message):
        self.room.show(f"* {message['user']} is typing")

    async def on_degraded(self, websocket, message):
        self.room.show("* live delivery interrupted; messages are still stored")

    async def on_restored(self, websocket, message):
        self.room.show("* live delivery restored")
        if self.room.last_id is not None:
            await self.ask_history(websocket, self.room.last_id)

    async def on_error(self, websocket, message):
        self.room.show(f"! {message['code']}: {message['detail']}")
        if message["code"] in RESEND_ERRORS and message.get("ref") in self.room.pending:
            self.resend_later(websocket, message["ref"])

    async def on_notice(self, websocket, message):
        self.room.show(f"* notice: {message['text']}")

    async def on_read(self, websocket, message):
        if message["unread"] is None:
            self.room.show(f"* {message['user']} has seen up to #{message['id']}")
        else:
            self.room.show(
                f"* read up to #{message['id']}: {message['unread']} unread,"
                f" {message['mentions']} mentions left"
            )

    async def on_rooms(self, websocket, message):
        for room in message["rooms"] + message["direct"]:
            marks = [f"last #{room['last_id']}"]
            if room.get("unread"):
                marks.append(f"{room['unread']} unread")
            if room.get("mentions"):
                marks.append(f"{room['mentions']} mentions")
            lock = " (private)" if room["private"] else ""
            self.room.show(f"* room {room['name']}{lock}: {', '.join(marks)}")

    async def on_members(self, websocket, message):
        for member in message["members"]:
            marks = [member["role"]] + [
                mark for mark in ("muted", "banned") if member[mark]
            ]
            self.room.show(f"* member {member['user']}: {', '.join(marks)}")

    async def on_invited(self, websocket, message):
        self.room.show(f"* {message['by']} invited you to {message['room']}")

    async def on_removed(self, websocket, message):
        self.room.show(
            f"* {message['reason']} from {message['room']} by {message['by']}"
        )

    async def on_change(self, websocket, message):
        self.room.receive(message)

    async def ignore(self, websocket, message):
        """Nothing to show: the answer to a request this client does not make."""

    HANDLERS = {
        "joined": on_joined,
        "message": on_message,
        "history": on_history,
        "presence": on_presence,
        "typing": on_typing,
        "degraded": on_degraded,
        "restored": on_restored,
        "error": on_error,
        "notice": on_notice,
        "edit": on_change,
        "delete": on_change,
        "reaction": on_change,
        "member": on_change,
        "read": on_read,
        "rooms": on_rooms,
        "members": on_members,
        "invited": on_invited,
        "removed": on_removed,
        "left": ignore,
    }


# The commands, as typed: /name [arguments]. A line that starts with "//"
# is sent as a message starting with "/".
COMMANDS_HELP = """* commands:
*   /edit ID TEXT       replace the text of your message ID
*   /delete ID          delete your message (a moderator: anyone's)
*   /react ID EMOJI     add your reaction, or take it back
*   /read [ID]          mark the room read up to ID (default: all you have seen)
*   /rooms              rooms with their unread messages and mentions
*   /members            the room's members, roles and marks
*   /invite USER   /remove USER   /depart            (private rooms)
*   /ban USER   /unban USER   /mute USER   /unmute USER   (moderators)
*   /mod USER   /unmod USER   make a member moderator, or not (the owner)
*   /quit"""


def command_message(word, rest, room):
    """The protocol message a command sends, or None for help."""
    number, _, text = rest.partition(" ")
    target = int(number) if number.isdigit() else None
    if word == "edit" and target and text.strip():
        return {"type": "edit", "id": target, "text": text.strip()}
    if word == "delete" and target and not text:
        return {"type": "delete", "id": target}
    if word == "react" and target and text.strip():
        return {"type": "react", "id": target, "emoji": text.strip()}
    if word == "read" and (target or not rest):
        return {"type": "read", "id": target or room.last_id or 0}
    if word in ("rooms", "members", "depart") and not rest:
        return {"type": word}
    user = rest if rest and " " not in rest else None
    if word in protocol.MEMBER_ACTIONS and word != "role" and user:
        return {"type": word, "user": user}
    if word in ("mod", "unmod") and user:
        role = "moderator" if word == "mod" else "member"
        return {"type": "role", "user": user, "role": role}
    return None


def main(argv=None):
    options = parse(argv)
    try:
        return asyncio.run(ChatClient(options).run())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
