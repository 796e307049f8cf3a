"""daphne's Server, with a lighter queue between each connection and its
application, and the connection itself offered to the application.

daphne gives every connection an ``asyncio.Queue`` for the messages its
application receives, though daphne only calls ``put_nowait`` and the
application only ``get``: ``server.inbox.Inbox`` does that in 3 KB less.

Its keep-alive comes from the WEBSOCKET_PING_INTERVAL and
WEBSOCKET_PONG_TIMEOUT settings rather than daphne's ``--ping-interval`` and
``--ping-timeout`` flags, so that it is the same however daphne is started.

On SIGTERM daphne cancels every application and lets Twisted drop the
connections, so clients see 1006 and cannot tell a deploy from a crash. This
Server first stops listening and closes every WebSocket with 1001 ("going
away": reconnect, elsewhere), then waits for the closes, at most
``shutdown_seconds`` (WEBSOCKET_CLOSE_TIMEOUT), before daphne's own shutdown.

A WebSocket scope carries the ASGI extension ``fastlane``: the connection's
protocol, through which the channel layer writes a group message framed once
for every member (``server.layers.local``) instead of once per member.
"""

import asyncio
import logging
import time
from functools import partial

from daphne import cli, server, ws_protocol
from twisted.internet import defer, reactor

from server.close_codes import GOING_AWAY
from server.inbox import Inbox

logger = logging.getLogger(__name__)

FASTLANE = "fastlane"

RELIES_ON = [
    (cli.CommandLineInterface, ["server_class"]),
    (server.Server, ["create_application", "handle_reply", "application"]),
    (server.Server.__init__, ["ping_interval", "ping_timeout", "listeners"]),
    (server.Server, ["run"]),
    (server.Server.run, ["connections"]),
]


class Server(server.Server):
    # Set by install(): seconds between keep-alive pings, and how long a pong
    # may take before the connection is dropped.
    keepalive = None
    shutdown_seconds = 5
    # How often shutdown looks whether every WebSocket has closed.
    SHUTDOWN_POLL_SECONDS = 0.05

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.keepalive is not None:
            self.ping_interval, self.ping_timeout = self.keepalive

    def run(self):
        # Registered before daphne's own trigger, so it runs first.
        reactor.addSystemEventTrigger("before", "shutdown", self.close_websockets)
        super().run()

    def close_websockets(self):
        """Stop listening, close every open WebSocket with 1001, and return a
        Deferred that fires once they have closed or shutdown_seconds passed."""
        for listening in self.listeners:
            port = getattr(listening, "result", None)
            if hasattr(port, "stopListening"):
                port.stopListening()
        sockets = [
            protocol
            for protocol in self.connections
            if isinstance(protocol, ws_protocol.WebSocketProtocol)
            and protocol.state == protocol.STATE_OPEN
        ]
        for protocol in sockets:
            protocol.serverClose(GOING_AWAY.code, GOING_AWAY.reason)
        logger.info("shutting down: closing %d WebSockets with 1001", len(sockets))
        done = defer.Deferred()
        deadline = time.monotonic() + self.shutdown_seconds

        def closed_yet():
            if time.monotonic() > deadline or all(
                protocol.state == protocol.STATE_CLOSED for protocol in sockets
            ):
                done.callback(None)
            else:
                reactor.callLater(self.SHUTDOWN_POLL_SECONDS, closed_yet)

        closed_yet()
        return done

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


def install(ping_interval, pong_timeout, shutdown_seconds):
    """Make daphne's command line, which ``daphne`` and ``manage.py serve`` run,
    start this Server; it builds the server after importing the application."""
    Server.keepalive = (ping_interval, pong_timeout)
    Server.shutdown_seconds = shutdown_seconds
    cli.CommandLineInterface.server_class = Server
