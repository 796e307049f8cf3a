"""A terminal chat client for /ws/chat/.

    python -m chat.client ws://127.0.0.1:8000/ws/chat/ --room lobby --name alice
    python -m chat.client ws://127.0.0.1:8000/ws/chat/ --room lobby --session KEY

Each line typed is sent to the room; ``/quit`` (or the end of the input) leaves.
It prints the room's history, then every message with its id, time and
author, each change to one (edits, deletions, reactions), who joins, leaves,
types, and what moderators do. Lines starting with ``/`` are commands
(``/help`` lists them: edit, delete, react, reply, thread, upload, notify, search, read,
rooms, members, and the
moderators' invite, remove, ban, mute, mod...).

It is a screen over the Python client library (clients/chat.py), which keeps
the protocol's promises: when the connection drops it reconnects with
back-off and joins with ``since`` and the room's epoch, so nothing is missed
or shown twice, and a line sent but not yet confirmed stored is sent again
with the same ``client_id``, which the server stores once.
"""

import argparse
import asyncio
import os
import sys
from urllib.parse import urlencode, urlsplit, urlunsplit

from clients.chat import RETRYING, STOPPED, ChatClient, ChatError, upload
from server.operations.terminal import read_lines

# At the end of the input, how long to wait for the lines still unconfirmed.
DRAIN_SECONDS = 10.0


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


class Screen:
    """Prints what the library applies to one room, a line each."""

    def __init__(self, client, room_name, out, base=""):
        self.client, self.room_name, self.out = client, room_name, out
        self.base = base  # the service's http(s)://host:port, before a file's path
        self.joined_once = False
        client.on("state", self.state)
        client.on("read", self.read)
        client.on("invited", self.invited)
        client.on("removed", self.removed)
        client.on("notice", lambda notice: self.show(f"* notice: {notice['text']}"))
        client.on("error", self.error)

    def show(self, line):
        print(line, file=self.out, flush=True)

    def watch(self, room):
        room.on("joined", self.joined)
        room.on("reset", lambda room: self.show(f"* {room.name}'s history was reset"))
        room.on("event", self.event)
        room.on("change", lambda change: self.event(change["event"]))
        room.on("presence", self.presence)
        room.on("typing", lambda user: self.show(f"* {user} is typing"))

    def state(self, change):
        if change["state"] == RETRYING:
            code, delay = change["code"], change["delay"]
            self.show(f"* disconnected ({code}); reconnecting in {delay:.1f} s")
        elif change["state"] == STOPPED and change["code"] == 3000:
            self.show("* signed out: log in again for a new --session")
        elif change["state"] == STOPPED and change["code"] != 1000:
            self.show(f"* closed by the server: {change['code']}")
        elif change.get("detail") and change["state"] == "degraded":
            self.show("* live delivery interrupted; messages are still stored")
        elif change.get("detail"):
            self.show("* live delivery restored")

    def joined(self, reply):
        if self.joined_once:
            self.show(f"* rejoined {reply['room']}")
            return
        self.joined_once = True
        members = ", ".join(reply["members"]) or "nobody"
        self.show(f"* joined {reply['room']}: {members} here")

    def event(self, event):
        time = event["ts"][11:19]
        kind = event["type"]
        if kind == "message":
            self.show(f"[{time}] {self.message_line(event)}")
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

    def message_line(self, message):
        text = "(deleted)" if message["deleted"] else message["text"]
        edited = " (edited)" if message["edited"] else ""
        thread = message.get("reply_to")
        where = f" (in thread #{thread})" if thread else ""
        summary = message.get("thread")
        replies = f" [{summary['replies']} replies]" if summary else ""
        files = "".join(
            f"\n    [file {f['name']}, {f['type']}, {f['size']} bytes:"
            f" {self.base}{f['url']}]"
            for f in message.get("files") or ()
        )
        line = f"#{message['id']}{where} <{message['author']}> {text}{edited}{replies}"
        return line + files

    def thread(self, reply):
        self.show(f"* thread #{reply['id']}: {self.message_line(reply['root'])}")
        for message in reply["replies"]:
            self.show(f"*   {self.message_line(message)}")
        if reply["more"]:
            last = reply["replies"][-1]["id"]
            self.show(f"*   (more: /thread {reply['id']} {last})")

    def found(self, reply):
        self.show(f"* search {reply['query']!r}: {len(reply['results'])} found")
        for result in reply["results"]:
            where = f"{result['room']} #{result['id']}"
            self.show(f"*   {where} <{result['author']}> {result['text']}")

    def presence(self, change):
        for user in change["joined"]:
            if user != self.client.user:
                self.show(f"* {user} joined")
        for user in change["left"]:
            if user != self.client.user:
                self.show(f"* {user} left")

    def read(self, message):
        if message["unread"] is None:
            self.show(f"* {message['user']} has seen up to #{message['id']}")
        else:
            self.show(
                f"* read up to #{message['id']}: {message['unread']} unread,"
                f" {message['mentions']} mentions left"
            )

    def rooms(self, reply):
        for room in reply["rooms"] + reply["direct"]:
            marks = [f"last #{room['last_id']}"]
            if room.get("unread"):
                marks.append(f"{room['unread']} unread")
            if room.get("mentions"):
                marks.append(f"{room['mentions']} mentions")
            lock = " (private)" if room["private"] else ""
            self.show(f"* room {room['name']}{lock}: {', '.join(marks)}")

    def members(self, reply):
        for member in reply["members"]:
            marks = [member["role"]] + [
                mark for mark in ("muted", "banned") if member[mark]
            ]
            self.show(f"* member {member['user']}: {', '.join(marks)}")

    def invited(self, message):
        self.show(f"* {message['by']} invited you to {message['room']}")

    def removed(self, message):
        self.show(f"* {message['reason']} from {message['room']} by {message['by']}")

    def error(self, error):
        self.show(f"! {error.code}: {error.detail}")


class Terminal:
    """Lines in, the room out, until the input ends or the server refuses us."""

    def __init__(self, options, out=sys.stdout, stream=None):
        headers = (
            [("Cookie", f"sessionid={options.session}")] if options.session else []
        )
        self.client = ChatClient(endpoint(options), user=options.name, headers=headers)
        self.base = http_base(options.url)
        self.session = options.session
        self.screen = Screen(self.client, options.room, out, self.base)
        self.room_name = options.room
        self.stream = stream or sys.stdin.buffer
        self.sending = set()  # lines not yet confirmed stored
        self.tasks = set()  # commands under way

    async def run(self):
        """The exit status: 0 when every line sent was stored."""
        self.client.connect()
        stopped = asyncio.create_task(self.client.wait_for(STOPPED))
        chatting = asyncio.create_task(self.chat())
        await asyncio.wait([stopped, chatting], return_when="FIRST_COMPLETED")
        if stopped.done():
            chatting.cancel()
            await asyncio.gather(chatting, return_exceptions=True)
            return 1
        stopped.cancel()
        unconfirmed = chatting.result()
        await self.client.close()
        if unconfirmed:
            self.screen.show(f"* {unconfirmed} lines not confirmed stored")
        return 1 if unconfirmed else 0

    async def chat(self):
        """Join, then send each line; at the end of the input, the number of
        lines still unconfirmed after DRAIN_SECONDS."""
        room = self.client.room(self.room_name)
        self.screen.watch(room)
        await self.client.wait_for("open")
        self.in_background(self.client.join(self.room_name))
        lines = read_lines(self.stream)
        while (line := await lines.get()) is not None and line.strip() != b"/quit":
            text = line.decode("utf-8", "replace")
            if text.startswith("/") and not text.startswith("//"):
                self.in_background(self.command(room, text))
                continue
            sent = asyncio.create_task(room.send(text.removeprefix("/")))
            self.sending.add(sent)
            sent.add_done_callback(self.confirmed)
        if self.sending:
            await asyncio.wait(self.sending, timeout=DRAIN_SECONDS)
        return len(self.sending)

    def confirmed(self, sent):
        self.sending.discard(sent)
        if not sent.cancelled() and sent.exception() is not None:
            self.screen.error(sent.exception())

    def in_background(self, request):
        task = asyncio.ensure_future(self.reported(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def reported(self, request):
        try:
            await request
        except ChatError as error:
            self.screen.error(error)

    async def command(self, room, line):
        """A ``/command``: its request, or help."""
        word, _, rest = line[1:].strip().partition(" ")
        number, _, text = rest.strip().partition(" ")
        if word == "reply" and number.isdigit() and text.strip():
            await room.send(text.strip(), reply_to=int(number))
            return
        if word == "search" and rest.strip():
            self.screen.found(await self.client.search(rest.strip()))
            return
        if word == "notify" and rest.strip() in ("", "on", "off"):
            chosen = {"": None, "on": True, "off": False}[rest.strip()]
            reply = await self.client.notifications(chosen)
            state = "on" if reply["email"] else "off"
            self.screen.show(f"* email when away: {state}")
            return
        if word == "upload" and number:
            await self.upload(room, number, text.strip())
            return
        message = command_message(word, rest.strip(), room)
        if message is None:
            self.screen.show(COMMANDS_HELP)
            return
        reply = await self.client.request(**{**message, "room": room.name})
        if word == "rooms":
            self.screen.rooms(reply)
        elif word == "members":
            self.screen.members(reply)
        elif word == "thread":
            self.screen.thread(reply)

    async def upload(self, room, path, text):
        """``/upload PATH [TEXT]``: the file, then a message naming it."""
        if not self.session:
            self.screen.show("* log in (--session) to send files")
            return
        try:
            data = await asyncio.to_thread(read_file, path)
        except OSError as error:
            self.screen.show(f"! cannot read {path}: {error.strerror}")
            return
        self.screen.show(f"* uploading {path} ({len(data)} bytes)")
        name = os.path.basename(path)
        stored = await upload(self.base, self.session, room.name, name, data)
        await room.send(text, files=[stored["id"]])


def read_file(path):
    with open(os.path.expanduser(path), "rb") as file:
        return file.read()


def http_base(ws_url):
    """The service's HTTP origin, from its WebSocket endpoint."""
    scheme, netloc, *_ = urlsplit(ws_url)
    return urlunsplit(("https" if scheme == "wss" else "http", netloc, "", "", ""))


# The commands, as typed: /name [arguments]. A line that starts with "//"
# is sent as a message starting with "/".
COMMANDS_HELP = """* commands:
*   /edit ID TEXT       replace the text of your message ID
*   /delete ID          delete your message (a moderator: anyone's)
*   /react ID EMOJI     add your reaction, or take it back
*   /reply ID TEXT      reply in the thread of message ID
*   /thread ID [AFTER]  the thread of message ID (replies after AFTER)
*   /upload PATH [TEXT] send a file (signed in), with TEXT
*   /notify [on|off]    whether you are emailed mentions and direct messages
*                       missed while away (signed in)
*   /search QUERY       search the rooms you may read (words, "a phrase",
*                       from:name, in:room, before:/after:YYYY-MM-DD)
*   /read [ID]          mark the room read up to ID (default: all you have seen)
*   /rooms              rooms with their unread messages and mentions
*   /members            the room's members, roles and marks
*   /invite USER   /remove USER   /depart            (private rooms)
*   /ban USER   /unban USER   /mute USER   /unmute USER   (moderators)
*   /mod USER   /unmod USER   make a member moderator, or not (the owner)
*   /quit"""


MEMBER_ACTIONS = ("invite", "remove", "ban", "unban", "mute", "unmute")


def command_message(word, rest, room):
    """The request a command makes (its kind and fields), or None for help."""
    number, _, text = rest.partition(" ")
    target = int(number) if number.isdigit() else None
    if word == "edit" and target and text.strip():
        return {"kind": "edit", "id": target, "text": text.strip()}
    if word == "delete" and target and not text:
        return {"kind": "delete", "id": target}
    if word == "react" and target and text.strip():
        return {"kind": "react", "id": target, "emoji": text.strip()}
    if word == "thread" and target:
        after = int(text) if text.strip().isdigit() else None
        return {"kind": "thread", "id": target, "after": after}
    if word == "read" and (target or not rest):
        return {"kind": "read", "id": target or room.last_id or 0}
    if word in ("rooms", "members", "depart") and not rest:
        return {"kind": word}
    user = rest if rest and " " not in rest else None
    if word in MEMBER_ACTIONS and user:
        return {"kind": word, "user": user}
    if word in ("mod", "unmod") and user:
        role = "moderator" if word == "mod" else "member"
        return {"kind": "role", "user": user, "role": role}
    return None


def main(argv=None):
    options = parse(argv)
    try:
        return asyncio.run(Terminal(options).run())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
