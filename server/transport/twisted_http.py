"""Twisted's HTTP channel, with a deadline for the request head and 431 for
one that is too large.

Twisted's ``HTTPChannel`` times a connection out only when it has been silent
(``resetTimeout`` on every byte), so a client that sends its request one byte
every few seconds (slowloris) holds a connection, and a file descriptor, for
as long as it likes: 20,000 of them exhaust a worker. A request head larger
than ``totalHeadersSize`` is answered 400 Bad Request, where RFC 6585 has
431. Here the first request's line and headers must all arrive within
``head_seconds`` (HTTP_HEADERS_TIMEOUT) or the client gets 408 and is
disconnected, and an oversized head gets 431.

``install()`` makes daphne's HTTP factory build this channel. The one speed
mixin in its bases (``speed/websocket_upgrade.py``) may be deleted from them
without changing behaviour.
"""

from daphne import http_protocol
from twisted.internet import reactor
from twisted.web import http

from .speed.websocket_upgrade import UpgradeInOneRead

RELIES_ON = [
    (http_protocol.HTTPFactory, ["protocol"]),
    (http, ["_GenericHTTPChannelProtocol"]),
    (
        http.HTTPChannel,
        [
            "connectionMade",
            "allHeadersReceived",
            "connectionLost",
            "totalHeadersSize",
            "_receivedHeaderSize",
            "_respondToBadRequestAndDisconnect",
            "lineLengthExceeded",
            "MAX_LENGTH",
        ],
    ),
]


class BoundedHeadChannel(UpgradeInOneRead, http.HTTPChannel):
    # Set by install().
    head_seconds = 10
    head_deadline = None

    def connectionMade(self):
        super().connectionMade()
        # Only the first request's head: later requests on a kept-alive
        # connection come after one was answered, and the idle timeout holds.
        self.head_deadline = reactor.callLater(self.head_seconds, self.head_too_slow)

    def allHeadersReceived(self):
        self.cancel_head_deadline()
        super().allHeadersReceived()

    def connectionLost(self, reason):
        self.cancel_head_deadline()
        super().connectionLost(reason)

    def cancel_head_deadline(self):
        if self.head_deadline is not None and self.head_deadline.active():
            self.head_deadline.cancel()
        self.head_deadline = None

    def head_too_slow(self):
        self.head_deadline = None
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
        )
        self.transport.loseConnection()

    def _respondToBadRequestAndDisconnect(self):
        if self._receivedHeaderSize > self.totalHeadersSize:
            self.head_too_large()
        else:
            super()._respondToBadRequestAndDisconnect()

    def lineLengthExceeded(self, line):
        # One line longer than the whole head may be: LineReceiver would drop
        # the connection without a word.
        self.head_too_large()

    def head_too_large(self):
        self.cancel_head_deadline()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
        )
        self.transport.loseConnection()


def build_channel(factory):
    return http._GenericHTTPChannelProtocol(BoundedHeadChannel())


def install(head_seconds, max_head_bytes):
    BoundedHeadChannel.head_seconds = head_seconds
    BoundedHeadChannel.totalHeadersSize = max_head_bytes
    BoundedHeadChannel.MAX_LENGTH = max_head_bytes
    http_protocol.HTTPFactory.protocol = build_channel
