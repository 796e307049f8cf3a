"""Channel layers: how consumers in different worker processes reach each other.

``redis_inbox.RedisInboxChannelLayer`` is the default with ``REDIS_URL`` set;
``project/channel_layers.py`` chooses and configures the layer.
"""


class ChannelLayerUnavailable(ConnectionError):
    """The layer cannot vouch for delivery: Redis is unreachable or stalled, or
    this process was dropped from a group it belongs to. Consumers close with
    1013 so that their clients reconnect and catch up."""
