"""daphne's Server, with a lighter queue between each connection and its
application, and the connection itself offered to the application.

daphne gives every connection an ``asyncio.Queue`` for the messages its
application receives, though daphne only calls ``put_nowait`` and the
application only ``get``: ``server.inbox.Inbox`` does that in 3 KB less.

Its keep-alive comes from the WEBSOCKET_PING_INTERVAL and
WEBSOCKET_PONG_TIMEOUT settings rather than daphne's ``--ping-interval`` and
``--ping-timeout`` flags, so that it is the same however daphne is started.

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
    (server.Server.__init__, ["ping_interval", "ping_timeout"]),
]


class Server(server.Server):
    # Set by install(): seconds between keep-alive pings, and how long a pong
    # may take before the connection is dropped.
    keepalive = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.keepalive is not None:
            self.ping_interval, self.ping_timeout = self.keepalive

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


def install(ping_interval, pong_timeout):
    """Make daphne's command line, which ``daphne`` and ``manage.py serve`` run,
    start this Server; it builds the server after importing the application."""
    Server.keepalive = (ping_interval, pong_timeout)
    cli.CommandLineInterface.server_class = Server
