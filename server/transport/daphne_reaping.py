"""daphne's Server, reaping each connection's application when it ends instead
of looking at every connection every second, and keeping WebSockets alive
without looking at every connection every 2 s.

daphne's ``application_checker`` runs every second over every connection,
open or not, to find the applications that have finished and the connections
that have closed; its ``timeout_checker`` runs every 2 s over every
connection, to send the keep-alive pings that are due. With 8,000 idle
connections the first was 56% of an idle worker's time and the second's own
work 9% (py-spy, ``python -m bench --modes connections``); both grow with the
connections, the first into a third of a core at 100,000.

Here an application is reaped by a callback when it finishes, and a closed
connection's application is given ``application_close_timeout`` by one timer
set when it closes, as daphne's checker gave it. A WebSocket's pings and
timeouts are ``keepalive.py``'s, which touches a connection only when
something is due for it. The sweep is left to HTTP requests, and runs only
when daphne is given ``--http-timeout``, the one thing it checks for them.
"""

import logging
from functools import partial

from daphne import server, ws_protocol
from twisted.internet import reactor

logger = logging.getLogger(__name__)

RELIES_ON = [
    (
        server.Server,
        [
            "application_checker",
            "timeout_checker",
            "protocol_disconnected",
            "create_application",
            "stop",
        ],
    ),
    (server.Server.__init__, ["application_close_timeout", "http_timeout"]),
    (server.Server.run, ["connections"]),
    (server.Server.application_checker, ["connections"]),
]

# daphne's period for its sweep of every connection's timeouts.
SWEEP_SECONDS = 2


class ReapWhenDone:
    """A mixin for daphne's Server (server/transport/daphne_server.py)."""

    def create_application(self, protocol, scope):
        queue = super().create_application(protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None:
            instance.add_done_callback(partial(self.application_ended, protocol))
        return queue

    def application_ended(self, protocol, instance):
        details = self.connections.get(protocol)
        if details is None or details.get("application_instance") is not instance:
            return
        disconnected = "disconnected" in details
        exception = None if instance.cancelled() else instance.exception()
        if isinstance(exception, KeyboardInterrupt):
            self.stop()  # a test's way of asking the server to exit, as in daphne
        elif exception is not None:
            logger.error(
                "Exception inside application: %s", exception, exc_info=exception
            )
            if not disconnected:
                protocol.handle_exception(exception)
        del details["application_instance"]
        if disconnected:
            del self.connections[protocol]

    def protocol_disconnected(self, protocol):
        if protocol not in self.connections:
            return  # reaped already; daphne may report a close twice
        closing_now = "disconnected" not in self.connections[protocol]
        super().protocol_disconnected(protocol)
        instance = self.connections[protocol].get("application_instance")
        if instance is None:
            del self.connections[protocol]
        elif closing_now:
            reactor.callLater(
                self.application_close_timeout, self.stop_lingering, protocol, instance
            )

    def stop_lingering(self, protocol, instance):
        if not instance.done():
            logger.warning(
                "Application instance %r for connection %s took too long to shut "
                "down and was killed.",
                instance,
                repr(protocol),
            )
            instance.cancel()

    def application_checker(self):
        """Nothing to look for: applications are reaped as they end."""

    def timeout_checker(self):
        if not self.http_timeout:
            return
        for protocol in list(self.connections):
            if not isinstance(protocol, ws_protocol.WebSocketProtocol):
                protocol.check_timeouts()
        reactor.callLater(SWEEP_SECONDS, self.timeout_checker)
