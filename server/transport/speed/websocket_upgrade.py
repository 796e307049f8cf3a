"""A WebSocket handshake handed to autobahn without Twisted's HTTP request.

daphne upgrades a connection from inside Twisted's HTTP machinery: the channel
parses the head line by line into a ``Request``, daphne's ``process`` (an
``inlineCallbacks`` generator) validates it, writes the head back into bytes,
and feeds them to autobahn, which parses them again. That was a fifth of a
handshake's samples (py-spy, ``python -m bench.profile --load handshakes``).
The channel and request then stay referenced by the transport for the
connection's life, about 3 KB of every idle connection (``bench.memory_profile``).

When one read holds exactly one request head that is a plain WebSocket
upgrade, and that head passes the same checks daphne and Twisted would make,
this mixin hands the bytes straight to daphne's WebSocket protocol, as
daphne's ``process`` does, and lets the channel go. Anything else (a head
split over reads, bytes after it, a body, a header Twisted or daphne would
refuse, a head over the size limit, TLS) takes Twisted's path unchanged, and
gets the same answer as before.
"""

from daphne import server, utils, ws_protocol
from twisted.protocols.policies import ProtocolWrapper
from twisted.web import http

RELIES_ON = [
    (utils, ["HEADER_NAME_RE", "INVALID_HEADER_VALUE_BYTES"]),
    (server.Server.run, ["ws_factory"]),
    (ws_protocol.WebSocketProtocol.onConnect, ["_raw_query_string"]),
    (
        http.HTTPChannel,
        ["dataReceived", "setTimeout", "totalHeadersSize", "maxHeaders"],
    ),
    (http.HTTPChannel.connectionMade, ["_networkProducer"]),
]

HEAD_END = b"\r\n\r\n"
# Headers that announce a body, which an upgrade request does not have.
BODY_HEADERS = frozenset((b"content-length", b"transfer-encoding"))


def upgrade_query_string(data, max_head_bytes, max_headers):
    """The raw query string if ``data`` is exactly one well-formed
    ``GET ... HTTP/1.1`` head asking for a WebSocket upgrade, else None."""
    end = data.find(HEAD_END)
    if end < 0 or end + len(HEAD_END) != len(data) or len(data) > max_head_bytes:
        return None
    lines = data[:end].split(b"\r\n")
    if len(lines) - 1 > max_headers:
        return None
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[2] != b"HTTP/1.1":
        return None
    target = parts[1]
    if not target.startswith(b"/") or not target.isascii():
        return None
    upgrade = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if (
            not colon
            or not utils.HEADER_NAME_RE.fullmatch(name)
            or b"\n" in value
            or b"\r" in value
            or b"\0" in value
            or utils.INVALID_HEADER_VALUE_BYTES.intersection(value)
        ):
            return None
        name = name.lower()
        if name in BODY_HEADERS:
            return None
        if name == b"upgrade":
            upgrade = value.strip(b" \t").lower() == b"websocket"
    if not upgrade:
        return None
    return target.partition(b"?")[2]


class UpgradeInOneRead:
    """A mixin for Twisted's HTTP channel (server/transport/twisted_http.py),
    whose ``cancel_head_deadline`` it calls when it takes the connection."""

    first_read_done = False

    def dataReceived(self, data):
        if not self.first_read_done:
            self.first_read_done = True
            query_string = upgrade_query_string(
                data, self.totalHeadersSize, self.maxHeaders
            )
            # Under TLS the transport is a wrapper, which daphne's own
            # upgrade treats apart.
            wrapped = isinstance(self.transport, ProtocolWrapper)
            if query_string is not None and not wrapped:
                return self.hand_to_websocket(data, query_string)
        return super().dataReceived(data)

    def hand_to_websocket(self, head, query_string):
        transport = self.transport
        protocol = self.factory.server.ws_factory.buildProtocol(transport.getPeer())
        protocol._raw_query_string = query_string
        # The channel's timers and its place as the transport's producer are
        # all that would keep it alive; it never reads again.
        self.cancel_head_deadline()
        self.setTimeout(None)
        self._networkProducer.unregisterProducer()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        protocol.dataReceived(head)
