"""autobahn's per-connection costs, paid once per process.

- Autobahn copies some 70 options from the factory into every connection's
  own ``__dict__`` and pretty-prints the list of them for a debug line, logged
  or not: a fifth of a handshake's time (py-spy, ``python -m bench.profile``),
  and 2 KB of every connection. One process has one factory, so the class
  adopts the options once and connections share them.
- It gives every connection a deque for chopped and synchronous sends, which
  daphne never makes: 760 bytes of every idle connection. One is made for the
  first such send instead.
- Its ``sendData`` formats a debug line (``hltype``, ``hlval``) for every
  write, logged or not: a fifth of a fan-out worker's time. When nothing is
  queued, chopped or synchronous, it only writes to the transport; so does
  this.
"""

from collections import deque

from autobahn.websocket.protocol import WebSocketProtocol
from daphne import ws_protocol

RELIES_ON = [
    (ws_protocol.WebSocketProtocol, ["CONFIG_ATTRS", "factory", "_connectionMade"]),
    (WebSocketProtocol._connectionMade, ["send_queue"]),
    (WebSocketProtocol, ["sendData(data, sync, chopsize)"]),
]


class SharedOptions:
    """A mixin for daphne's WebSocket protocol (server/transport/daphne_protocol.py)."""

    def _connectionMade(self):
        cls = type(self)
        if cls.CONFIG_ATTRS:
            for name in cls.CONFIG_ATTRS:
                if name not in vars(cls):
                    value = getattr(self.factory, name)
                    # A callable option must not become a method of the class.
                    setattr(
                        cls, name, staticmethod(value) if callable(value) else value
                    )
            cls.CONFIG_ATTRS = ()
        super()._connectionMade()
        self.send_queue = ()

    def sendData(self, data, sync=False, chopsize=None):
        if sync or chopsize or self.send_queue:
            if not self.send_queue:
                self.send_queue = deque()
            return super().sendData(data, sync, chopsize)
        self.transport.write(data)
