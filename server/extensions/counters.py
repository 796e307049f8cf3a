"""What the Channels extensions and the apps count, for ``/metrics``
(server/operations/metrics.py). The transport's own are in
server/transport/counters.py."""

from prometheus_client import Counter, Histogram

GROUP_SENDS = Counter("group_sends", "Messages sent to a group")
REDIS_ERRORS = Counter(
    "redis_errors",
    "Redis operations of the channel layer that failed, by node (host:port)",
    ["node"],
)
DATABASE_ERRORS = Counter(
    "database_errors", "Chat messages the database could not store"
)
FANOUT_SECONDS = Histogram(
    "group_delivery_seconds",
    "From group_send to the worker handing the message to its members",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
