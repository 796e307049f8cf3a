"""The wire protocol of the echo endpoints: subprotocols and group names.

The close codes every endpoint shares are in server/extensions/close_codes.py;
docs/protocols.md documents both.
"""

import re

# RFC 6455's own example; a client that offers none of these is accepted
# without a subprotocol.
SUBPROTOCOLS = ("chat", "superchat")

# Group names: what channel layers accept in a group name, minus the characters
# URLs would need escaped, and short enough to leave room for the layer's prefix.
GROUP_NAME = re.compile(r"[A-Za-z0-9._-]{1,80}")


def choose_subprotocol(offered, supported=SUBPROTOCOLS):
    """The first subprotocol the client offered that we support, or None."""
    return next((name for name in offered if name in supported), None)
