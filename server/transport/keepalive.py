"""Keep-alive for every WebSocket of the process, with one timer.

daphne looks at every connection every 2 s (``Server.timeout_checker``) to
send the pings that are due, through autobahn, which draws a random payload
from the kernel and sets a timer for each pong. With 18,000 idle connections
pinged every 20 s and looked at every 5 s, a worker idled at 6.9% of a core,
a fifth of it the looking (py-spy, ``python -m bench --modes connections``);
with these queues (and the collector's thresholds in ``project/asgi.py``),
2.5%.

Here the connections wait in queues in the order in which something is due
for them, so that a tick touches only those:

- ``open``: every ``interval`` a connection is sent a ping (an empty frame,
  prepared once) and daphne's other per-connection checks run for it (its cap
  on a connection's age); one that has sent no message for ``idle_timeout``
  (WEBSOCKET_IDLE_TIMEOUT; pongs do not count) is closed with ``idle_close``
  instead, so between ``idle_timeout`` and one interval more after its last
  message;
- ``answers``: a connection from which no pong has come within ``timeout`` of
  a ping is dropped, as autobahn's own keep-alive drops it. Any pong counts:
  RFC 6455 allows unsolicited ones, and a peer that sends them is alive.

Each queue's delay is the same for every entry, so appending keeps it in
order. A closed connection leaves the queues when its entry comes up, at most
one interval later. daphne's sweep also refused a handshake the application
had not answered within its connect timeout; autobahn's opening-handshake
timeout, which daphne sets to the same value, drops it first.
"""

import logging
import time
from collections import deque

from autobahn.websocket.protocol import WebSocketProtocol
from daphne import ws_protocol
from twisted.internet import reactor

logger = logging.getLogger(__name__)

RELIES_ON = [
    (
        ws_protocol.WebSocketProtocol,
        [
            "check_timeouts",
            "STATE_OPEN",
            "onAutoPingTimeout",
            "onPong",
            "onMessage",
            "serverClose",
            "sendData",
        ],
    ),
    (ws_protocol.WebSocketProtocol.check_timeouts, ["duration", "last_ping"]),
    (WebSocketProtocol.processControlFrame, ["_onPong"]),
]

# FIN, opcode 9 (ping), unmasked, no payload (RFC 6455 section 5.5.2).
PING_FRAME = b"\x89\x00"
# The longest a tick waits; shorter keep-alive settings tick more often.
LONGEST_TICK_SECONDS = 1.0


class KeepAlive:
    def __init__(self, interval, timeout, idle_timeout=0, idle_close=None):
        self.interval = interval
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.idle_close = idle_close
        self.tick_seconds = min(LONGEST_TICK_SECONDS, interval / 4, timeout / 4)
        self.open = deque()  # (due, protocol)
        self.answers = deque()  # (due, protocol, ping sent at)
        self.running = False

    def opened(self, protocol):
        now = protocol.last_pong = protocol.last_message = time.monotonic()
        self.open.append((now + self.interval, protocol))
        if not self.running:
            self.running = True
            reactor.callLater(self.tick_seconds, self.tick)

    def tick(self):
        # The next tick first: a failure below must not end the keep-alive.
        reactor.callLater(self.tick_seconds, self.tick)
        now = time.monotonic()
        open_, answers = self.open, self.answers
        while open_ and open_[0][0] <= now:
            _, protocol = open_.popleft()
            if protocol.state != protocol.STATE_OPEN:
                continue
            protocol.check_timeouts()
            if protocol.state != protocol.STATE_OPEN:
                continue
            if self.idle_timeout and now - protocol.last_message >= self.idle_timeout:
                protocol.serverClose(*self.idle_close)
                continue
            protocol.sendData(PING_FRAME)
            answers.append((now + self.timeout, protocol, now))
            open_.append((now + self.interval, protocol))
        while answers and answers[0][0] <= now:
            _, protocol, sent = answers.popleft()
            if protocol.state == protocol.STATE_OPEN and protocol.last_pong < sent:
                logger.info(
                    "dropping %s: no pong in %s s", protocol.client_addr, self.timeout
                )
                protocol.onAutoPingTimeout()


class Heard:
    """A mixin for daphne's WebSocket protocol (server/transport/daphne_protocol.py):
    when the peer last answered a ping, and last sent a message."""

    last_pong = 0.0
    last_message = 0.0

    def onPong(self, payload):
        self.last_pong = time.monotonic()
        super().onPong(payload)

    def onMessage(self, payload, isBinary):
        self.last_message = time.monotonic()
        super().onMessage(payload, isBinary)
