"""The CHANNEL_LAYERS setting, built from REDIS_URL.

No REDIS_URL: the in-memory layer, which only reaches consumers in the same
process. With REDIS_URL: channels-redis, which reaches every worker process.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

REDIS_SCHEMES = ("redis", "rediss", "unix")
# redis-py caps a pool at 100 connections and then raises rather than waits;
# 200 members joining one worker at once hit that cap (MaxConnectionsError).
MAX_REDIS_CONNECTIONS = 1000
# redis-py 8 times out every socket read after 5 s, and the core layer waits for
# messages in a BZPOPMIN of 5 s: an idle member's read timed out just as Redis
# answered "nothing yet", and the member was closed with 1013. The read timeout
# must outlast the blocking wait, and still notice a Redis that stops answering.
REDIS_SOCKET_TIMEOUT = 10
POOL_OPTIONS = {
    "max_connections": MAX_REDIS_CONNECTIONS,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
}
SENTINEL_SCHEME = "sentinel"
# channels-redis's two layers; README gives the measurements behind the default.
REDIS_LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def channel_layers(redis_url, *, capacity, expiry, group_expiry, flavour="core"):
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if flavour not in REDIS_LAYERS:
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_LAYER must be one of {', '.join(REDIS_LAYERS)}, "
            f"not {flavour!r}"
        )
    config = {"hosts": [redis_host(redis_url)], "prefix": "echo"}
    if flavour == "core":
        # Pub/sub keeps nothing in Redis, so these apply to the core layer only.
        config.update(capacity=capacity, expiry=expiry, group_expiry=group_expiry)
    return {"default": {"BACKEND": REDIS_LAYERS[flavour], "CONFIG": config}}


def redis_host(url):
    """One entry of channels-redis's ``hosts`` list, for a URL or a Sentinel URL.

    ``sentinel://[:password@]host:port[,host:port...]/master_name[/db]`` names the
    Sentinels and the master they watch; the password is the master's.
    """
    scheme = url.split("://", 1)[0]
    if scheme in REDIS_SCHEMES:
        return {"address": url, **POOL_OPTIONS}
    if scheme != SENTINEL_SCHEME:
        raise ImproperlyConfigured(
            f"REDIS_URL must start with redis://, rediss://, unix:// or "
            f"sentinel://, not {scheme}://"
        )
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    password = unquote(netloc[0].split(":", 1)[-1]) if len(netloc) == 2 else None
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ImproperlyConfigured("a sentinel:// REDIS_URL must name the master")
    host = {
        "sentinels": [sentinel_address(item) for item in netloc[-1].split(",")],
        "master_name": path[0],
        "db": int(path[1]) if len(path) > 1 else 0,
        **POOL_OPTIONS,
    }
    if password:
        host["password"] = password
    return host


def sentinel_address(item):
    name, _, port = item.rpartition(":")
    if not name or not port.isdigit():
        raise ImproperlyConfigured(f"sentinel address {item!r} is not host:port")
    return (name.strip("[]"), int(port))
