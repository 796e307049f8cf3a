"""What the transport counts, for ``/metrics`` (server/operations/metrics.py).

Counting stays off the per-member path: a group message written to many
members by the fast lane is counted once, with their number.
"""

from prometheus_client import Counter, Gauge

OPEN_CONNECTIONS = Gauge(
    "websocket_connections_open",
    "WebSocket connections open (handshakes under way included)",
    multiprocess_mode="livesum",
)
MESSAGES_RECEIVED = Counter(
    "websocket_messages_received", "WebSocket messages received from clients"
)
MESSAGES_SENT = Counter(
    "websocket_messages_sent", "WebSocket messages sent to clients, group ones too"
)
REJECTIONS = Counter(
    "websocket_rejections",
    "Handshakes refused and messages or connections cut off by a limit",
    ["reason"],
)
