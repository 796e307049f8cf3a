"""Twisted's TCP transport, made to send at once when nothing is waiting, to say
how much is waiting, and to let go of it when the connection is lost.

Twisted's ``write`` never writes: it queues the bytes, asks the event loop to
watch the socket for room, sends on the loop's next turn, then stops watching.
For a WebSocket echo that is two changes to the loop's watch list and one more
loop turn per message, about a third of the server's time (py-spy, with
``python -m bench.profile``). asyncio's own transports try the socket first and
queue only what it does not take; this transport does the same. Bytes go out in
the same order either way: it sends directly only when nothing is queued.

A lost connection keeps its unsent bytes while anything still refers to it
(autobahn's batched ping timer does, for up to the ping timeout): a dropped
slow client held 50 MB that way. ``connectionLost`` releases them.
"""

from twisted.internet import abstract, tcp

RELIES_ON = [
    (tcp.Port, ["transport"]),
    (tcp.Server, ["TLS", "_writeDisconnected", "writeSomeData", "connectionLost"]),
    (
        abstract.FileDescriptor,
        ["dataBuffer", "offset", "_tempDataLen", "_tempDataBuffer"],
    ),
]


class SendAtOnceServer(tcp.Server):
    def write(self, data):
        if data and self._idle():
            sent = self.writeSomeData(data)
            # An exception here means the connection is lost; the queued path
            # below meets the same error on its next write and reports it.
            if isinstance(sent, int) and sent > 0:
                data = data[sent:]
        super().write(data)

    def unsent_bytes(self):
        """Bytes written to this transport that the kernel has not taken yet."""
        return len(self.dataBuffer) - self.offset + self._tempDataLen

    def connectionLost(self, reason):
        super().connectionLost(reason)
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataBuffer = []
        self._tempDataLen = 0

    def _idle(self):
        return (
            self.connected
            and not self.TLS
            and not self._writeDisconnected
            and not self._tempDataLen
            and self.offset == len(self.dataBuffer)
        )


def install():
    """Make every TCP server in this process use SendAtOnceServer."""
    tcp.Port.transport = SendAtOnceServer
