"""Twisted's TCP transport, made to send at once when nothing is waiting.

Twisted's ``write`` never writes: it queues the bytes, asks the event loop to
watch the socket for room, sends on the loop's next turn, then stops watching.
For a WebSocket echo that is two changes to the loop's watch list and one more
loop turn per message, about a third of the server's time (py-spy, with
``python -m bench.profile``; 1.29x the round trips without it). asyncio's own
transports try the socket first and queue only what it does not take; this
does the same. Bytes go out in the same order either way: it sends directly
only when nothing is queued.
"""

from twisted.internet import abstract, tcp

RELIES_ON = [
    (
        tcp.Server,
        ["TLS", "_writeDisconnected", "writeSomeData", "connected", "write"],
    ),
    (abstract.FileDescriptor, ["dataBuffer", "offset", "_tempDataLen"]),
]


class SendAtOnce:
    """A mixin for Twisted's ``tcp.Server`` (server/transport/twisted_transport.py)."""

    def write(self, data):
        if data and self._idle():
            sent = self.writeSomeData(data)
            # An exception here means the connection is lost; the queued path
            # below meets the same error on its next write and reports it.
            if isinstance(sent, int) and sent > 0:
                data = data[sent:]
        super().write(data)

    def _idle(self):
        return (
            self.connected
            and not self.TLS
            and not self._writeDisconnected
            and not self._tempDataLen
            and self.offset == len(self.dataBuffer)
        )
