"""daphne's Server, with keep-alive from settings, a graceful shutdown, and
the connection offered to the application for the fast lane.

Its keep-alive (``keepalive.py``) comes from the WEBSOCKET_PING_INTERVAL and
WEBSOCKET_PONG_TIMEOUT settings rather than daphne's ``--ping-interval`` and
``--ping-timeout`` flags, so that it is the same however daphne is started.

On SIGTERM daphne cancels every application and lets Twisted drop the
connections, so clients see 1006 and cannot tell a deploy from a crash. This
Server first stops listening and closes every WebSocket with 1001 ("going
away": reconnect, elsewhere), then waits for the closes, at most
``shutdown_seconds`` (WEBSOCKET_CLOSE_TIMEOUT), before daphne's own shutdown.

Applications are reaped as they end, not by a scan (``daphne_reaping.py``).

A WebSocket scope carries the connection as a ``fastlane.FrameWriter`` under
the ASGI extension ``fastlane.SCOPE_KEY``, and declares under
``message_limit.SCOPE_KEY`` that its transport bounds each message; an HTTP
scope, its response as a stream (``response_stream.py``).

The one speed mixin in the Server's bases (``speed/daphne_queue.py``) may be
deleted from them without changing behaviour.
"""

import logging
import math
import time

from daphne import cli, server, ws_protocol
from twisted.internet import defer, reactor

from . import fastlane, message_limit, response_stream
from .daphne_reaping import ReapWhenDone
from .keepalive import KeepAlive
from .response_stream import ResponseStream
from .speed.daphne_queue import QueuePerConnection

logger = logging.getLogger(__name__)

RELIES_ON = [
    (cli.CommandLineInterface, ["server_class"]),
    (server.Server, ["create_application", "run"]),
    (server.Server.__init__, ["ping_interval", "ping_timeout", "listeners"]),
    (server.Server.run, ["connections"]),
    (ws_protocol.WebSocketProtocol, ["STATE_OPEN", "STATE_CLOSED", "serverClose"]),
    (defer.Deferred, ["callback"]),
    (defer.Deferred._startRunCallbacks, ["result"]),
]


class Server(ReapWhenDone, QueuePerConnection, server.Server):
    # Set by install(): seconds between keep-alive pings, and how long a pong
    # may take before the connection is dropped.
    keepalive = None
    idle = (0, None)  # WEBSOCKET_IDLE_TIMEOUT, and the close for it
    shutdown_seconds = 5
    going_away_close = None
    # How often shutdown looks whether every WebSocket has closed.
    SHUTDOWN_POLL_SECONDS = 0.05

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.keepalive is not None:
            interval, timeout = self.keepalive
        else:
            interval, timeout = self.ping_interval, self.ping_timeout
        self.keep_alive = KeepAlive(interval, timeout, *self.idle)
        # daphne's own pings (in its protocols' check_timeouts) never fall due.
        self.ping_interval = math.inf

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
            protocol.serverClose(*self.going_away_close)
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
        if scope["type"] == "websocket":
            extensions = scope.setdefault("extensions", {})
            extensions[fastlane.SCOPE_KEY] = protocol
            extensions[message_limit.SCOPE_KEY] = {}
        elif scope["type"] == "http":
            stream = ResponseStream(protocol)
            scope.setdefault("extensions", {})[response_stream.SCOPE_KEY] = stream
        return super().create_application(protocol, scope)


def install(
    *,
    ping_interval,
    pong_timeout,
    idle_timeout,
    idle_close,
    shutdown_seconds,
    going_away_close,
):
    """Make daphne's command line, which ``daphne`` and ``manage.py serve`` run,
    start this Server; it builds the server after importing the application."""
    Server.keepalive = (ping_interval, pong_timeout)
    Server.idle = (idle_timeout, idle_close)
    Server.shutdown_seconds = shutdown_seconds
    Server.going_away_close = going_away_close
    cli.CommandLineInterface.server_class = Server
