"""Our extensions to Channels: the base consumer, its limits, the close-code
table, the channel layers and the Redis plumbing they share.

Imports run one way: the apps import this package, this package imports the
transport (server/transport/), never the reverse. Capabilities of a channel
layer beyond Channels' interface are declared in its ``extensions`` list
(layers/__init__.py) and asked for by name.
"""

from server.transport.upstream import check

# The modules here that use names of Channels' beyond its documented API.
RELYING_ON_UPSTREAM = (
    "server.extensions.consumers",
    "server.extensions.layers.redis_inbox",
)


def check_upstream():
    """Stop with one line if Channels moved a name we use."""
    check(RELYING_ON_UPSTREAM)
