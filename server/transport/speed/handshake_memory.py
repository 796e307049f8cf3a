"""What only the handshake needs, let go once the connection is open.

autobahn keeps the whole handshake on every connection: the request's bytes,
its headers as a dict (which the ``ConnectionRequest`` it hands daphne holds
too), its status line, URI, host and query parameters, the key, the origin,
the offered subprotocols and extensions, and the response it sent; daphne
keeps the Deferred of the application's creation. Nothing reads them once the
connection is open (the application has its scope by then), and together
they were about 1.7 KB of every idle connection (``bench.memory_profile``).
"""

from autobahn.websocket.protocol import WebSocketServerProtocol
from autobahn.websocket.types import ConnectionRequest
from daphne import ws_protocol

HANDSHAKE_ONLY = (
    "http_headers",
    "http_request_data",
    "http_status_line",
    "http_request_uri",
    "http_request_host",
    "http_request_params",
    "_wskey",
    "websocket_origin",
    "websocket_protocols",
    "websocket_extensions",
)
REQUEST_HANDSHAKE_ONLY = ("headers", "params", "protocols", "extensions")

RELIES_ON = [
    (WebSocketServerProtocol.processHandshake, list(HANDSHAKE_ONLY)),
    (WebSocketServerProtocol.succeedHandshake, ["http_response_data", "_onOpen"]),
    (ws_protocol.WebSocketProtocol.onConnect, ["application_deferred", "request"]),
    (ConnectionRequest, list(REQUEST_HANDSHAKE_ONLY)),
]


class ForgetHandshake:
    """A mixin for daphne's WebSocket protocol (server/transport/daphne_protocol.py)."""

    def onOpen(self):
        super().onOpen()
        for name in HANDSHAKE_ONLY:
            setattr(self, name, None)
        self.http_response_data = None
        self.application_deferred = None
        for name in REQUEST_HANDSHAKE_ONLY:
            setattr(self.request, name, None)
