"""Twisted's TCP transport, made to say how much is waiting to be sent and to
let go of it when the connection is lost.

The send bound (``daphne_protocol.py``, WEBSOCKET_SEND_BUFFER_BYTES) asks
``unsent_bytes``. A lost connection keeps its unsent bytes while anything
still refers to it (autobahn's batched ping timer does, for up to the ping
timeout): a dropped slow client held 50 MB that way. ``connectionLost``
releases them.

The one speed mixin in the class's bases (``speed/twisted_write.py``) may be
deleted from them without changing behaviour.
"""

from twisted.internet import abstract, tcp

from .speed.twisted_write import SendAtOnce

RELIES_ON = [
    (tcp.Port, ["transport"]),
    (tcp.Server, ["connectionLost"]),
    (
        abstract.FileDescriptor,
        ["dataBuffer", "offset", "_tempDataLen", "_tempDataBuffer"],
    ),
]


class TcpServer(SendAtOnce, tcp.Server):
    def unsent_bytes(self):
        """Bytes written to this transport that the kernel has not taken yet."""
        return len(self.dataBuffer) - self.offset + self._tempDataLen

    def connectionLost(self, reason):
        super().connectionLost(reason)
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataBuffer = []
        self._tempDataLen = 0


def install():
    """Make every TCP server in this process use TcpServer."""
    tcp.Port.transport = TcpServer
