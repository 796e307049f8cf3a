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
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.backoff import NoBackoff
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

# The first lines of every script that compares with an expiry: Redis's own
# clock, in seconds, so that workers whose clocks differ still agree.
CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# What a failed Redis call raises. redis-py 8's asyncio connections raise
# AttributeError or TypeError (RuntimeError on uvloop), not ConnectionError,
# when written to after the peer closed them
# (https://github.com/redis/redis-py/issues/4287): a master's death does that
# to its connections. The cluster client raises RedisClusterException, which
# is no RedisError, when no node it knows answers. Only a Redis call may stand
# in a try block that catches these.
ERRORS = (
    RedisError,
    RedisClusterException,
    OSError,
    AttributeError,
    TypeError,
    RuntimeError,
)

# event loop -> {host key: client}; a loop that is gone takes its clients.
_clients = weakref.WeakKeyDictionary()


def layer_hosts():
    """The Redis hosts of the default channel layer; [] for the in-memory one.
    Each is a dict: ``{"address": url, ...}``, a Sentinel's
    ``{"sentinels": [...], "master_name": ..., ...}`` or a Cluster's
    ``{"cluster": url, "seeds": [...], ...}`` (project/channel_layers.py)."""
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [])


def client(host):
    """This event loop's client for ``host``, made on first use."""
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    key = json.dumps(host, sort_keys=True, default=str)
    if key not in clients:
        if is_cluster(host):
            clients[key] = cluster_client(host)
        else:
            clients[key] = aioredis.Redis(connection_pool=pool(host))
    return clients[key]


async def close_clients():
    """Close this event loop's clients and their connections."""
    clients = _clients.pop(asyncio.get_running_loop(), {})
    for redis in clients.values():
        if isinstance(redis, RedisCluster):
            await redis.aclose()
        else:
            await redis.aclose(close_connection_pool=True)


def is_cluster(host):
    return "cluster" in host


def cluster_client(host):
    """A Redis Cluster client that never retries a command by itself: a write
    whose answer was lost may have run, and running it again would deliver
    twice. A failed command raises; the layer then treats it as an outage,
    and the client learns the new topology on its next command."""
    host = dict(host)
    url = host.pop("cluster")
    seeds = [ClusterNode(name, port) for name, port in host.pop("seeds")]
    return RedisCluster.from_url(
        url,
        startup_nodes=seeds,
        retry=Retry(NoBackoff(), 0),
        # A MOVED answer (a resharding) updates that slot alone: rebuilding
        # the whole topology would close the blocking reads of every node.
        reinitialize_steps=0,
        **host,
    )


async def ready(client):
    """Let a cluster client learn the topology before a command, when it has
    not yet or has lost it. Several commands that each find it missing at
    once (the layer's readers at start, or after a failover) otherwise race
    inside redis-py's command path and close each other's connections."""
    if isinstance(client, RedisCluster):
        await client.initialize()


async def pop_batch(client, key, block_seconds, count):
    """Wait up to ``block_seconds`` for the list ``key``, then take up to
    ``count`` items from its head: ``[key, items]``, or None.

    On a cluster the command goes straight to the key's master. BLMPOP's keys
    follow a count, so redis-py would otherwise ask a node which they are
    (COMMAND GETKEYS) before every call, a round trip outside its error
    handling that fails with AttributeError when that node's connection drops.
    """
    args = ("BLMPOP", block_seconds, 1, key, "LEFT", "COUNT", count)
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(key)
        return await client.execute_command(*args, target_nodes=node)
    return await client.execute_command(*args)


def cluster_tags(count):
    """``count`` hash tags whose slots are spread evenly over the cluster's
    16,384: tag k lands in the k-th of ``count`` equal runs of slots, so that
    ``redis-cli --cluster create``'s even split puts as many on each master."""
    run = REDIS_CLUSTER_HASH_SLOTS / count
    tags = []
    for index in range(count):
        attempt = 0
        while key_slot(f"{{{index}.{attempt}}}".encode()) // run != index:
            attempt += 1
        tags.append(f"{index}.{attempt}")
    return tags


def cluster_hash_tag(name, partitions):
    """The hash tag, braces included, of the cluster partition holding
    ``name``'s keys: what an operator or a test asks the cluster about."""
    return f"{{{cluster_tags(partitions)[host_index(name, partitions)]}}}"


def node_name(error, client):
    """The Redis node a failed command went to, as ``host:port``."""
    node = getattr(error, "connection", None)
    if isinstance(getattr(node, "name", None), str):
        return node.name
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "host" in kwargs:
        return f"{kwargs['host']}:{kwargs.get('port', 6379)}"
    service = getattr(getattr(client, "connection_pool", None), "service_name", None)
    return f"sentinel:{service}" if service else "unknown"


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


def heartbeat(ttl, beat, running=lambda: True):
    """A task that awaits ``beat()`` every third of ``ttl`` seconds while
    ``running()``: what was renewed at the last beat outlives the one before by
    the TTL, so one missed beat loses nothing. ``beat`` handles its own
    failures, a cancellation that redis-py turned into one of them included,
    so that ``running`` is what ends it for sure."""

    async def beating():
        while running():
            await asyncio.sleep(ttl / 3)
            if running():
                await beat()

    return asyncio.get_running_loop().create_task(beating())
