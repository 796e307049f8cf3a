"""What a streamed HTTP response has waiting to be sent, for an application
that must bound it: the HTTP fallback's event streams, which a client that
stops reading would otherwise fill without end (a WebSocket has the same
bound in ``daphne_protocol.py``).

An HTTP scope carries a ``SendBuffer`` under the ASGI extension
``SCOPE_KEY`` (``daphne_server.py``); its transport is ``TcpServer``
(``twisted_transport.py``), which counts the unsent bytes.
"""

from twisted.internet import tcp
from twisted.web import http

SCOPE_KEY = "http.send_buffer"

RELIES_ON = [
    (http.Request, ["transport"]),
    (tcp.Server, ["abortConnection"]),
]


class SendBuffer:
    __slots__ = ("transport",)

    def __init__(self, request):
        self.transport = request.transport

    def unsent(self):
        """Bytes written to the response that the kernel has not taken yet."""
        return self.transport.unsent_bytes()

    def abort(self):
        """Drop the connection now, and with it what waits to be sent."""
        self.transport.abortConnection()
