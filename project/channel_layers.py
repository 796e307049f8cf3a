"""The CHANNEL_LAYERS setting, built from REDIS_URL.

No REDIS_URL: the process layer (server/extensions/layers/process.py), which
only reaches consumers in the same process. With REDIS_URL: our inbox layer
(server/extensions/layers/redis_inbox.py), or one of channels-redis's two for
comparison; each reaches every worker process.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

REDIS_SCHEMES = ("redis", "rediss", "unix")
# redis-py caps a pool at 100 connections and then raises rather than waits;
# 200 members joining one worker at once hit that cap (MaxConnectionsError).
MAX_REDIS_CONNECTIONS = 1000
# Every socket read times out; the timeout must outlast the layer's blocking
# wait for messages (else an idle member's read times out just as Redis answers
# "nothing yet", and it is closed with 1013: redis-py 8's 5 s default did that
# to the core layer's 5 s BZPOPMIN), and it bounds how long a Redis that
# stopped answering goes unnoticed. The inbox layer's timeout is the
# REDIS_SOCKET_TIMEOUT setting, and it waits this fraction of it for messages;
# channels-redis's layers wait 5 s, so theirs is fixed.
BLOCK_FRACTION = 0.4
UPSTREAM_SOCKET_TIMEOUT = 10
SENTINEL_SCHEME = "sentinel"
# redis+cluster://host:port[,host:port...]: a Redis Cluster, any node a seed.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
PROCESS_LAYER = "server.extensions.layers.process.ProcessChannelLayer"
# README gives the measurements behind the default.
REDIS_LAYERS = {
    "inbox": "server.extensions.layers.redis_inbox.RedisInboxChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def channel_layers(
    redis_url,
    *,
    capacity,
    expiry,
    group_expiry,
    membership_ttl,
    socket_timeout=5.0,
    hosts=(),
    flavour="inbox",
    cluster_partitions=16,
):
    """``hosts``: further Redis URLs; keys are spread over all of them.
    ``cluster_partitions``: on a Redis Cluster, how many slots the layer's
    keys are spread over (``redis_inbox.py``)."""
    if not redis_url:
        return {"default": {"BACKEND": PROCESS_LAYER, "CONFIG": {"capacity": capacity}}}
    if flavour not in REDIS_LAYERS:
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_LAYER must be one of {', '.join(REDIS_LAYERS)}, "
            f"not {flavour!r}"
        )
    pool = {
        "max_connections": MAX_REDIS_CONNECTIONS,
        "socket_timeout": (
            socket_timeout if flavour == "inbox" else UPSTREAM_SOCKET_TIMEOUT
        ),
    }
    urls = [redis_url, *hosts]
    if len(urls) > 1 and any(cluster_url(url) for url in urls):
        raise ImproperlyConfigured(
            "REDIS_SHARDS cannot go with a Redis Cluster: the cluster spreads "
            "the keys over its masters itself"
        )
    if flavour != "inbox" and cluster_url(redis_url):
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_LAYER={flavour} cannot run on a Redis Cluster "
            "(channels-redis's scripts touch keys in different slots); use inbox"
        )
    config = {"hosts": [redis_host(url, pool) for url in urls], "prefix": "echo"}
    if flavour != "pubsub":
        # Pub/sub keeps nothing in Redis, so these do not apply to it.
        config.update(capacity=capacity, expiry=expiry, group_expiry=group_expiry)
    if flavour == "inbox":
        config.update(
            membership_ttl=membership_ttl,
            block_seconds=socket_timeout * BLOCK_FRACTION,
        )
        if cluster_url(redis_url):
            config.update(cluster_partitions=cluster_partitions)
    return {"default": {"BACKEND": REDIS_LAYERS[flavour], "CONFIG": config}}


def redis_host(url, pool):
    """One entry of channels-redis's ``hosts`` list, for a URL, a Sentinel URL
    or a Cluster URL.

    ``sentinel://[:password@]host:port[,host:port...]/master_name[/db]`` names the
    Sentinels and the master they watch; the password is the master's.
    ``redis+cluster://[[user]:password@]host:port[,host:port...]`` (or
    ``rediss+cluster://`` for TLS) names seed nodes of a Redis Cluster, which
    the client asks for the rest; the entry is ``{"cluster": ..., "seeds": ...}``.
    """
    scheme = url.split("://", 1)[0]
    if scheme in REDIS_SCHEMES:
        return {"address": url, **pool}
    if scheme in CLUSTER_SCHEMES:
        return cluster_host(url, pool)
    if scheme != SENTINEL_SCHEME:
        raise ImproperlyConfigured(
            f"REDIS_URL must start with redis://, rediss://, unix://, "
            f"sentinel:// or redis+cluster://, not {scheme}://"
        )
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    password = unquote(netloc[0].split(":", 1)[-1]) if len(netloc) == 2 else None
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ImproperlyConfigured("a sentinel:// REDIS_URL must name the master")
    host = {
        "sentinels": [host_and_port(item) for item in netloc[-1].split(",")],
        "master_name": path[0],
        "db": int(path[1]) if len(path) > 1 else 0,
        **pool,
    }
    if password:
        host["password"] = password
    return host


def host_and_port(item):
    name, _, port = item.rpartition(":")
    if not name or not port.isdigit():
        raise ImproperlyConfigured(f"Redis address {item!r} is not host:port")
    return (name.strip("[]"), int(port))


def cluster_url(url):
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def cluster_host(url, pool):
    """A Redis Cluster's entry: the first seed as a plain URL (credentials and
    query kept), and every seed as ``(host, port)``."""
    parts = urlsplit(url)
    credentials, _, seeds = parts.netloc.rpartition("@")
    if parts.path.strip("/") not in ("", "0"):
        raise ImproperlyConfigured("a Redis Cluster has only database 0")
    seeds = seeds.split(",")
    addresses = [host_and_port(seed) for seed in seeds]
    scheme = CLUSTER_SCHEMES[parts.scheme]
    at = f"{credentials}@" if credentials else ""
    first = f"{scheme}://{at}{seeds[0]}/"
    if parts.query:
        first += f"?{parts.query}"
    return {"cluster": first, "seeds": addresses, **pool}
