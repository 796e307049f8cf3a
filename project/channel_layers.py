"""The CHANNEL_LAYERS setting, built from REDIS_URL.

No REDIS_URL: the in-memory layer, which only reaches consumers in the same
process. With REDIS_URL: channels-redis, which reaches every worker process.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

REDIS_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "sentinel"


def channel_layers(redis_url, *, capacity, expiry, group_expiry):
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [redis_host(redis_url)],
                "prefix": "echo",
                "capacity": capacity,
                "expiry": expiry,
                "group_expiry": group_expiry,
            },
        }
    }


def redis_host(url):
    """One entry of channels-redis's ``hosts`` list, for a URL or a Sentinel URL.

    ``sentinel://[:password@]host:port[,host:port...]/master_name[/db]`` names the
    Sentinels and the master they watch; the password is the master's.
    """
    scheme = url.split("://", 1)[0]
    if scheme in REDIS_SCHEMES:
        return {"address": url}
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
    }
    if password:
        host["password"] = password
    return host


def sentinel_address(item):
    name, _, port = item.rpartition(":")
    if not name or not port.isdigit():
        raise ImproperlyConfigured(f"sentinel address {item!r} is not host:port")
    return (name.strip("[]"), int(port))
