"""daphne's Server, with a lighter queue between each connection and its
application, and the connection itself offered to the application.

daphne gives every connection an ``asyncio.Queue`` for the messages its
application receives: daphne only calls ``put_nowait`` and the application only
``get``. An asyncio.Queue holds four deques for that (items, waiting getters,
waiting putters and the Event behind ``join``), 3 KB of every idle connection
(tracemalloc). ``Inbox`` holds one deque and one waiting reader.

A WebSocket scope carries the ASGI extension ``fastlane``: the connection's
protocol, through which the channel layer writes a group message framed once
for every member (``server.layers.local``) instead of once per member.
"""

import asyncio
from collections import deque
from functools import partial

from daphne import cli, server

FASTLANE = "fastlane"

RELIES_ON = [
    (cli.CommandLineInterface, ["server_class"]),
    (server.Server, ["create_application", "handle_reply", "application"]),
]


class Inbox:
    """Messages for one application instance, read by one task at a time."""

    __slots__ = ("_messages", "_reader")

    def __init__(self):
        self._messages = deque()
        self._reader = None

    def put_nowait(self, message):
        self._messages.append(message)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def get(self):
        while not self._messages:
            if self._reader is not None:
                raise RuntimeError("an Inbox has one reader; another is waiting")
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        return self._messages.popleft()


class Server(server.Server):
    def create_application(self, protocol, scope):
        # daphne's own method, with an Inbox where it makes an asyncio.Queue.
        assert "application_instance" not in self.connections[protocol]
        inbox = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        if scope["type"] == "websocket":
            scope.setdefault("extensions", {})[FASTLANE] = protocol
        instance = self.application(
            scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            instance, loop=asyncio.get_event_loop()
        )
        return inbox


def install():
    """Make daphne's command line, which ``daphne`` and ``manage.py serve`` run,
    start this Server; it builds the server after importing the application."""
    cli.CommandLineInterface.server_class = Server
