"""What the channel layer and chat presence share of Redis: one client per
host and event loop, the clock both read in their scripts, the hash that
places a name on a host, and the heartbeat that renews what lapses.

Rule: nothing else in the process makes a Redis connection pool for the
channel layer's hosts, so one worker holds one pool per host however many
features use Redis.
"""

import asyncio
import binascii
import json
import weakref

from django.conf import settings
from redis import asyncio as aioredis

# The first lines of every script that compares with an expiry: Redis's own
# clock, in seconds, so that workers whose clocks differ still agree.
CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# event loop -> {host key: client}; a loop that is gone takes its clients.
_clients = weakref.WeakKeyDictionary()


def layer_hosts():
    """The Redis hosts of the default channel layer; [] for the in-memory one.
    Each is a dict: ``{"address": url, ...}`` or a Sentinel's
    ``{"sentinels": [...], "master_name": ..., ...}`` (project/channel_layers.py)."""
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [])


def client(host):
    """This event loop's client for ``host``, made on first use."""
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    key = json.dumps(host, sort_keys=True, default=str)
    if key not in clients:
        clients[key] = aioredis.Redis(connection_pool=pool(host))
    return clients[key]


async def close_clients():
    """Close this event loop's clients and their connections."""
    clients = _clients.pop(asyncio.get_running_loop(), {})
    for redis in clients.values():
        await redis.aclose(close_connection_pool=True)


def pool(host):
    """A connection pool for one host entry (see ``layer_hosts``)."""
    host = dict(host)
    if "address" in host:
        return aioredis.ConnectionPool.from_url(host.pop("address"), **host)
    sentinels = host.pop("sentinels")
    master = host.pop("master_name")
    sentinel_kwargs = host.pop("sentinel_kwargs", None)
    return aioredis.sentinel.SentinelConnectionPool(
        master,
        aioredis.sentinel.Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs),
        **host,
    )


def host_index(name, hosts):
    """Which of ``hosts`` Redis hosts holds ``name``: CRC32's low 12 bits,
    spread evenly over the hosts (the placement channels-redis uses, so a
    deployment that switches layers keeps its keys where they were)."""
    if hosts == 1:
        return 0
    value = name.encode("utf8") if isinstance(name, str) else name
    return int((binascii.crc32(value) & 0xFFF) / (4096 / hosts))


def heartbeat(ttl, beat):
    """A task that awaits ``beat()`` every third of ``ttl`` seconds, for good:
    what was renewed at the last beat outlives the one before by the TTL, so
    one missed beat loses nothing. ``beat`` handles its own failures."""

    async def beating():
        while True:
            await asyncio.sleep(ttl / 3)
            await beat()

    return asyncio.get_running_loop().create_task(beating())
