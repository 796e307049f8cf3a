"""The wire protocol of the echo endpoints: subprotocols, limits and close codes.

Clients see these numbers; README.md documents them. A close code says whether a
client should reconnect: ``retry`` is the advice the client page follows.
"""

import re
from dataclasses import dataclass

# RFC 6455's own example; a client that offers none of these is accepted
# without a subprotocol.
SUBPROTOCOLS = ("chat", "superchat")

# Group names: what channel layers accept in a group name, minus the characters
# URLs would need escaped, and short enough to leave room for the layer's prefix.
GROUP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


@dataclass(frozen=True)
class CloseCode:
    code: int
    reason: str
    retry: bool


NORMAL = CloseCode(1000, "normal closure", retry=False)
GOING_AWAY = CloseCode(1001, "server going away", retry=True)
# Sent by the server itself (daphne, through server.daphne_protocol).
INVALID_UTF8 = CloseCode(1007, "text message is not valid UTF-8", retry=False)
MESSAGE_TOO_BIG = CloseCode(1009, "message exceeds the maximum size", retry=False)
INTERNAL_ERROR = CloseCode(1011, "internal server error", retry=True)
# The group's channel layer (Redis) cannot be reached; try again later.
TRY_AGAIN_LATER = CloseCode(1013, "group messaging unavailable", retry=True)


def choose_subprotocol(offered, supported=SUBPROTOCOLS):
    """The first subprotocol the client offered that we support, or None."""
    return next((name for name in offered if name in supported), None)
