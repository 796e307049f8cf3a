"""Daphne's WebSocket protocol, corrected where it falls short of RFC 6455 and
bounded where it buffers without limit.

daphne 4.2 (its ``ws_protocol.WebSocketProtocol``):

- drops an empty outgoing message, because it tests the payload for truth
  (``if message.get("bytes")``) rather than for presence;
- closes with a code but never a reason (https://github.com/django/daphne/issues/374),
  and only with codes autobahn's ``sendClose`` allows an application (1000,
  3000-4999), so 1011 and 1013 fail;
- leaves autobahn's ``failByDrop`` on, so a message over the size limit or
  invalid UTF-8 drops the TCP connection instead of closing with 1009 or 1007;
- answers every client close with 1000 rather than the code the client sent,
  which RFC 6455 section 5.5.1 says an endpoint echoes;
- raises "Attempt to send on a closed protocol" into the application when a
  message reaches a connection that has just closed, a traceback per group
  message in flight;
- buffers without limit what a client does not read: 300 echoed 1 MB
  messages took a worker from 75 MB to 375 MB, kept until a ping timeout;
- passes any close code an application asks for to the wire, where RFC 6455
  section 7.4 reserves 1004, 1005, 1006 and 1015 and allows nothing outside
  1000-4999 but the registered 1000-1003 and 1007-1014 and 3000-4999;
- accepts connections until the process runs out of file descriptors, and then
  accepts and drops them with no HTTP answer; here the handshake beyond
  WEBSOCKET_MAX_CONNECTIONS (in all, or WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS
  from one client address) is refused with 503, and counted;
- never accepts permessage-deflate (RFC 7692), which autobahn implements and
  every browser offers (``autobahn_deflate.py``).

It also offers the fast lane (``fastlane.py``): a frame prepared once, written
to many connections.

``install()`` puts the class below in daphne's factory. The speed mixins in
its bases (``speed/autobahn_options.py``, ``speed/handshake_memory.py``) may
be deleted from them without changing behaviour.
"""

import logging

from autobahn import util as autobahn_util
from autobahn.util import encode_truncate
from autobahn.websocket.protocol import PreparedMessage
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from autobahn.websocket.types import ConnectionDeny
from daphne import server as daphne_server
from daphne import ws_protocol
from daphne.utils import parse_x_forwarded_for

from . import counters
from .autobahn_deflate import accept_deflate, forget_compression_context, refuse_offers
from .connection_limits import ConnectionCounter
from .fastlane import FrameWriter
from .keepalive import Heard
from .speed.autobahn_options import SharedOptions
from .speed.handshake_memory import ForgetHandshake

logger = logging.getLogger(__name__)

# RFC 6455 section 5.5: a control frame's payload is at most 125 bytes, two of
# which carry the close code.
MAX_CLOSE_REASON_BYTES = 123
# What an endpoint may put in a close frame (RFC 6455 section 7.4 and IANA's
# registry): 1004-1006 and 1015 are reserved, 1016-2999 unassigned.
SENDABLE_CLOSE_CODES = (range(1000, 1004), range(1007, 1015), range(3000, 5000))
# What goes out instead of a code an application may not send.
INVALID_CLOSE_CODE_REPLACEMENT = 1011

RELIES_ON = [
    (ws_protocol.WebSocketFactory, ["protocol"]),
    (
        ws_protocol.WebSocketProtocol,
        [
            "CONFIG_ATTRS",
            "handle_reply",
            "sendCloseFrame",
            "sendPreparedMessage",
            "sendMessage",
            "onConnect",
            "onOpen",
            "onClose",
            "onMessage",
            "onMessageEnd",
            "STATE_CONNECTING",
            "STATE_OPEN",
            "STATE_CLOSED",
            "serverClose(code)",
            "sendCloseFrame(code, reasonUtf8, isReply)",
            "sendData(data, sync, chopsize)",
        ],
    ),
    (ws_protocol.WebSocketProtocol.onConnect, ["client_addr", "request"]),
    (
        AutobahnProtocol._connectionMade,
        ["send_queue", "_perMessageCompress", "state"],
    ),
    (ws_protocol, ["parse_x_forwarded_for"]),
    (ws_protocol.WebSocketFactory.__init__, ["server_class"]),
    (
        daphne_server.Server.__init__,
        [
            "proxy_forwarded_address_header",
            "proxy_forwarded_port_header",
            "proxy_forwarded_proto_header",
        ],
    ),
    (autobahn_util, ["encode_truncate"]),
    (PreparedMessage, ["__init__(payload, isBinary, applyMask, doNotCompress)"]),
    (PreparedMessage.__init__, ["payload", "binary"]),
    # Options autobahn copies from the factory unless the class has its own.
    (
        ws_protocol.WebSocketProtocol.CONFIG_ATTRS,
        [
            "failByDrop",
            "echoCloseCodeReason",
            "closeHandshakeTimeout",
            "maxMessagePayloadSize",
            "maxFramePayloadSize",
            "perMessageCompressionAccept",
        ],
    ),
]


class WebSocketProtocol(
    SharedOptions, ForgetHandshake, Heard, ws_protocol.WebSocketProtocol, FrameWriter
):
    # Autobahn copies protocol options from the factory only where the protocol
    # class has none, so these win over daphne's own.
    failByDrop = False
    echoCloseCodeReason = True
    # Set by install(): bytes that may wait in this process for one client,
    # and the close code and reason for a client that lets more wait.
    sendBufferBytes = None
    slow_client_close = None
    closingSlow = False
    # Open connections of this process against their limits (install()).
    connections = ConnectionCounter()
    counted_address = None
    opened = False

    def onConnect(self, request):
        address = self.client_address(request)
        refusal = self.connections.admit(address)
        if refusal is not None:
            logger.info("refused a handshake from %s: %s", address, refusal)
            counters.REJECTIONS.labels(refusal).inc()
            raise ConnectionDeny(503, refusal)
        self.counted_address = address
        counters.OPEN_CONNECTIONS.inc()
        return super().onConnect(request)

    def client_address(self, request):
        """The client's address as daphne will put it in the scope: the
        forwarded one behind a proxy that daphne is told to trust."""
        peer = self.transport.getPeer()
        address = getattr(peer, "host", None)
        server = self.factory.server_class
        if server.proxy_forwarded_address_header:
            headers = {
                name.lower().encode("ascii"): value.encode("latin1")
                for name, value in request.headers.items()
            }
            forwarded, _ = parse_x_forwarded_for(
                headers,
                server.proxy_forwarded_address_header,
                server.proxy_forwarded_port_header,
                server.proxy_forwarded_proto_header,
                [address, 0],
            )
            address = forwarded[0] if forwarded else address
        return address

    def onClose(self, wasClean, code, reason):
        if self.counted_address is None:
            return  # refused at the handshake: daphne never saw it
        self.connections.release(self.counted_address)
        self.counted_address = None
        counters.OPEN_CONNECTIONS.dec()
        if self.opened:
            # daphne's access log says when; this line says how.
            peer = ":".join(map(str, self.client_addr or ["unknown peer"]))
            clean = "" if wasClean else " (not clean)"
            logger.info("%s closed %s with %s%s", peer, self.request.path, code, clean)
        super().onClose(wasClean, code, reason)

    def onOpen(self):
        self.opened = True
        self.server.keep_alive.opened(self)
        super().onOpen()

    def onMessage(self, payload, isBinary):
        counters.MESSAGES_RECEIVED.inc()
        super().onMessage(payload, isBinary)

    def handle_reply(self, message):
        if self.state != self.STATE_CONNECTING:
            if message["type"] == "websocket.send":
                return self.send_message(message)
            if message["type"] == "websocket.close":
                return self.serverClose(message.get("code"), message.get("reason"))
        return super().handle_reply(message)

    def send_message(self, message):
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            raise ValueError(
                f"websocket.send needs exactly one of text and bytes, got {message!r}"
            )
        if self.state != self.STATE_OPEN:
            # Closing or closed: a message in flight towards it is for nobody.
            logger.debug("dropped a message for closed connection %s", self.client_addr)
            return
        counters.MESSAGES_SENT.inc()
        if data is not None:
            self.sendMessage(data, isBinary=True)
        else:
            self.sendMessage(text.encode("utf8"), isBinary=False)

    @staticmethod
    def prepare_frame(content):
        """``content`` (str for a text message, bytes for binary) framed once,
        to be written to any number of connections with ``send_prepared``."""
        if isinstance(content, str):
            return PreparedMessage(content.encode("utf8"), False, False, False)
        return PreparedMessage(content, True, False, False)

    def send_prepared(self, prepared):
        """Write a frame from ``prepare_frame``; False if the connection is not
        open, for the caller to take the ordinary path instead."""
        if self.state != self.STATE_OPEN:
            return False
        self.sendPreparedMessage(prepared)
        return True

    def sendData(self, data, sync=False, chopsize=None):
        # Every frame passes here whole. What the kernel will not take waits in
        # the transport; a client that lets more than sendBufferBytes wait has
        # stopped reading, and is closed rather than allowed to grow the worker.
        # One frame larger than the bound still goes out to an idle connection.
        if self.state == self.STATE_OPEN and not self.closingSlow:
            waiting = unsent_bytes(self.transport)
            if waiting and waiting + len(data) > self.sendBufferBytes:
                logger.info(
                    "closing %s: %d bytes unread", self.client_addr, waiting + len(data)
                )
                # The close frame queues behind what is already waiting (whole
                # frames only); autobahn drops the connection if the client has
                # not answered it within closeHandshakeTimeout.
                self.closingSlow = True
                counters.REJECTIONS.labels("client too slow").inc()
                return self.serverClose(*self.slow_client_close)
        return super().sendData(data, sync, chopsize)

    def sendMessage(self, payload, isBinary=False, *args, **kwargs):
        super().sendMessage(payload, isBinary, *args, **kwargs)
        forget_compression_context(self._perMessageCompress, sending=True)

    def onMessageEnd(self):
        super().onMessageEnd()
        forget_compression_context(self._perMessageCompress, sending=False)

    def serverClose(self, code=None, reason=None):
        code = code or 1000
        if not sendable(code):
            logger.warning(
                "close code %r may not be sent; closing %s with %d",
                code,
                self.client_addr,
                INVALID_CLOSE_CODE_REPLACEMENT,
            )
            code = INVALID_CLOSE_CODE_REPLACEMENT
        encoded = encode_truncate(reason, MAX_CLOSE_REASON_BYTES) if reason else None
        self.sendCloseFrame(code=code, reasonUtf8=encoded, isReply=False)


def sendable(code):
    return isinstance(code, int) and any(code in span for span in SENDABLE_CLOSE_CODES)


def unsent_bytes(transport):
    try:
        return transport.unsent_bytes()
    except AttributeError:
        # Not our TCP transport (TLS in daphne): no bound; README says to
        # terminate TLS at the proxy.
        return 0


def install(
    *,
    slow_client_close,
    max_message_size,
    send_buffer_bytes,
    close_timeout,
    permessage_deflate,
    max_connections,
    max_connections_per_address,
):
    """Make daphne build our protocol, with these limits."""
    WebSocketProtocol.slow_client_close = slow_client_close
    WebSocketProtocol.connections = ConnectionCounter(
        max_connections, max_connections_per_address
    )
    WebSocketProtocol.maxMessagePayloadSize = max_message_size
    WebSocketProtocol.maxFramePayloadSize = max_message_size
    WebSocketProtocol.sendBufferBytes = send_buffer_bytes
    WebSocketProtocol.closeHandshakeTimeout = close_timeout
    WebSocketProtocol.perMessageCompressionAccept = staticmethod(
        accept_deflate if permessage_deflate else refuse_offers
    )
    ws_protocol.WebSocketFactory.protocol = WebSocketProtocol
