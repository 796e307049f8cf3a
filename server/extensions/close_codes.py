"""The WebSocket close codes this server sends, and whether a client should retry.

RFC 6455 section 7.4 defines 1000-1015; 3000-3999 are registered for
libraries and frameworks, where Centrifugo's 3008 "slow" is the precedent for
a client that does not read fast enough. Each app's protocol module lists the
codes its endpoints send; docs/protocols.md's table is the documentation. The
transport sends two of these (1001 on shutdown, 3008 to a client that stops
reading), handed to it by ``project/asgi.py``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CloseCode:
    code: int
    reason: str
    retry: bool


NORMAL = CloseCode(1000, "normal closure", retry=False)
GOING_AWAY = CloseCode(1001, "server going away", retry=True)
IDLE = CloseCode(1001, "idle for too long", retry=True)
# Sent by autobahn itself (server/transport/daphne_protocol.py turns failByDrop off).
INVALID_UTF8 = CloseCode(1007, "text message is not valid UTF-8", retry=False)
# Sent by a consumer for a message over a rate it declares (limits.py).
RATE_LIMITED = CloseCode(1008, "rate limit exceeded", retry=True)
MESSAGE_TOO_BIG = CloseCode(1009, "message exceeds the maximum size", retry=False)
INTERNAL_ERROR = CloseCode(1011, "internal server error", retry=True)
# The channel layer (Redis) cannot vouch for delivery; reconnect with back-off.
TRY_AGAIN_LATER = CloseCode(1013, "group messaging unavailable", retry=True)
# The user was signed out (logged out, password changed, deactivated) or cut
# off by the application (IANA registers 3000 as "Unauthorized"): reconnecting
# under the same identity would be refused, so a client asks its user again.
SIGNED_OUT = CloseCode(3000, "signed out", retry=False)
# The client fell behind: WEBSOCKET_SEND_BUFFER_BYTES of messages waited for it
# to read, or CHANNEL_CAPACITY events waited for its consumer.
TOO_SLOW = CloseCode(3008, "client too slow to read its messages", retry=True)
