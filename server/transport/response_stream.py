"""A streamed HTTP response as the transport offers it to the application:
what waits to be sent, a write that takes no trip through daphne's reply
path, and a drop. The HTTP fallback's event streams use it to be bounded as
a WebSocket is (a client that stops reading would otherwise fill the worker
without end; ``daphne_protocol.py`` has the WebSocket's bound) and to take
the fast lane: a group event written to every member's stream as bytes
prepared once.

An HTTP scope carries a ``ResponseStream`` under the ASGI extension
``SCOPE_KEY`` (``daphne_server.py``); its transport is ``TcpServer``
(``twisted_transport.py``), which counts the unsent bytes. A write is what
daphne's ``handle_reply`` does for a body message, so the application may mix
both as long as it has sent the response's start first.
"""

from twisted.internet import tcp
from twisted.web import http

SCOPE_KEY = "http.response_stream"

RELIES_ON = [
    (http.Request, ["transport", "write"]),
    (tcp.Server, ["abortConnection"]),
]


class ResponseStream:
    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request

    def write(self, data):
        """Send ``data`` as more of the response's body (after its start)."""
        http.Request.write(self.request, data)

    def unsent(self):
        """Bytes written to the response that the kernel has not taken yet."""
        return self.request.transport.unsent_bytes()

    def abort(self):
        """Drop the connection now, and with it what waits to be sent."""
        self.request.transport.abortConnection()
