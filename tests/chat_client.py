"""A chat client for the tests: JSON messages over a real WebSocket, and a
manage.py helper that makes registered users with a session to log in with."""

import asyncio
import contextlib
import json
import uuid

import websockets

from harness import accounts
from tests import servers

RECEIVE_SECONDS = 10


def unique(name):
    """``name`` made unique for one test: rooms and users outlive tests."""
    return f"{name}{uuid.uuid4().hex[:6]}"


class ChatClient:
    def __init__(self, websocket):
        self.websocket = websocket
        self.unread = []  # received, not yet asked for

    async def send(self, type_, **fields):
        await self.websocket.send(json.dumps({"type": type_, **fields}))

    async def next(self, type_, seconds=RECEIVE_SECONDS, **match):
        """The next message of ``type_`` (whose fields include ``match``);
        anything else received meanwhile stays unread, in order."""
        for index, message in enumerate(self.unread):
            if matches(message, type_, match):
                return self.unread.pop(index)
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await self.websocket.recv())
                if matches(message, type_, match):
                    return message
                self.unread.append(message)

    async def expect_silence(self, type_, seconds=0.5, **match):
        """Fail if a ``type_`` message arrives within ``seconds``."""
        with contextlib.suppress(TimeoutError):
            message = await self.next(type_, seconds, **match)
            raise AssertionError(f"expected no {type_}, received {message}")

    async def ready(self):
        """One round trip: the connection is accepted and in its groups."""
        await self.send("rooms")
        await self.next("rooms")

    async def join(self, room, **fields):
        await self.send("join", room=room, **fields)
        return await self.next("joined", room=room)

    async def say(self, room, text, **fields):
        await self.send("message", room=room, text=text, **fields)

    async def close(self):
        await self.websocket.close()


def matches(message, type_, match):
    return message.get("type") == type_ and all(
        message.get(key) == value for key, value in match.items()
    )


@contextlib.asynccontextmanager
async def chat(server, name=None, session=None):
    query = f"?name={name}" if name else ""
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/chat/{query}",
        additional_headers=headers,
        # Unread messages must not hold the close handshake up (close_timeout).
        max_queue=None,
    ) as websocket:
        yield ChatClient(websocket)


def registered_user(database_url, name):
    """Make ``name`` a registered user; a session key logged in as them."""
    return registered_users(database_url, [name])[name]


def registered_users(database_url, names):
    """Make these registered users, in one process: {name: session key}."""
    return accounts.signed_in(
        names, servers.service_environment(DATABASE_URL=database_url)
    )


def manage_shell(database_url, code):
    """What ``code`` prints, run by manage.py shell against the servers' database."""
    env = servers.service_environment(DATABASE_URL=database_url)
    return accounts.manage_shell(code, env)
