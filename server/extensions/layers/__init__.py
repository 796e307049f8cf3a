"""Channel layers: how consumers in different worker processes reach each other.

``redis_inbox.RedisInboxChannelLayer`` is the default with ``REDIS_URL`` set;
``project/channel_layers.py`` chooses and configures the layer.

A layer declares what it offers beyond Channels' interface in its
``extensions`` list, and consumers ask ``name in layer.extensions``:

- ``"fastlane"``: ``fastlane(channel, encoders, connection)`` writes group
  events straight to an idle member's connection (``local.py``);
- ``"outages"``: ``survive_outages(channel)`` lets a consumer ride out a Redis
  outage, told by ``layer.outage`` and ``layer.restored`` events, and
  ``group_send_local`` reaches this process's members meanwhile;
- ``"publisher"``: ``receives()`` says whether a loop of this process
  receives, and ``publish_blocking(coroutine)`` runs a send on the layer's
  publisher thread for sync code in a process that does not (``publisher.py``).
"""

from redis.exceptions import RedisError


class ChannelLayerUnavailable(ConnectionError):
    """The layer cannot vouch for delivery: Redis is unreachable or stalled, or
    this process was dropped from a group it belongs to. Consumers close with
    1013 so that their clients reconnect and catch up."""


# What a layer's calls raise when Redis cannot vouch for delivery: ours, and
# redis-py's from channels-redis's layers.
LAYER_ERRORS = (ChannelLayerUnavailable, RedisError)

FASTLANE = "fastlane"
OUTAGES = "outages"
PUBLISHER = "publisher"
