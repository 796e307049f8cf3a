"""daphne's Server, with a lighter queue between each connection and its
application, and the connection itself offered to the application.

daphne gives every connection an ``asyncio.Queue`` for the messages its
application receives, though daphne only calls ``put_nowait`` and the
application only ``get``: ``server.inbox.Inbox`` does that in 3 KB less.

A WebSocket scope carries the ASGI extension ``fastlane``: the connection's
protocol, through which the channel layer writes a group message framed once
for every member (``server.layers.local``) instead of once per member.
"""

import asyncio
from functools import partial

from daphne import cli, server

from server.inbox import Inbox

FASTLANE = "fastlane"

RELIES_ON = [
    (cli.CommandLineInterface, ["server_class"]),
    (server.Server, ["create_application", "handle_reply", "application"]),
]


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
