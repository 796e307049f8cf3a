"""The cluster-transport mode: the two ways a group message can cross a Redis
Cluster to the workers, measured on Redis alone before the layer chose one.

On a cluster of three masters, a publisher sends messages to one group whose
members are on ``WORKERS`` workers, each worker played by one reader:

- ``per-slot inbox lists`` (what the layer does): one script per message
  pushes a copy into each worker's list in the group's slot; each reader
  takes up to 256 at a time with BLMPOP;
- ``sharded pub/sub``: SPUBLISH to the group's channel; each reader holds
  SSUBSCRIBE.

Figures: messages a second that reached every reader, and the cluster's CPU
per 1,000 deliveries to readers. A publisher keeps ``IN_FLIGHT`` sends going.
"""

import asyncio
import time

import redis.asyncio as aioredis
from redis.crc import key_slot

from bench import targets
from server.extensions.layers.scripts import SEND_TO_GROUP

WORKERS = 2
IN_FLIGHT = 32
TAG = "{bench}"


async def measure_cluster_transport(plan):
    messages = 2_000 if plan.quick else 100_000
    cluster = await asyncio.to_thread(targets.redis_cluster)
    try:
        port = cluster.slot_owner(key_slot(TAG.encode()))
        rows = []
        for name, run in (
            ("per-slot inbox lists", inbox_lists),
            ("sharded pub/sub", sharded_pubsub),
        ):
            client = aioredis.Redis(port=port)
            try:
                cpu = cluster.cpu_seconds()
                started = time.perf_counter()
                delivered = await run(client, port, messages)
                wall = time.perf_counter() - started
                cpu = cluster.cpu_seconds() - cpu
            finally:
                await client.aclose()
            rows.append(
                {
                    "target": name,
                    "messages_per_s": messages / wall,
                    "delivered": delivered,
                    "expected": messages * WORKERS,
                    "redis_cpu_ms_per_1000": cpu / delivered * 1e6,
                }
            )
        return rows
    finally:
        cluster.stop()


async def publish(messages, send):
    window = asyncio.Semaphore(IN_FLIGHT)

    async def one(number):
        async with window:
            await send(b"x" * 32 + str(number).encode())

    await asyncio.gather(*(one(number) for number in range(messages)))


async def inbox_lists(client, port, messages):
    group = f"bench:{TAG}:group:g"
    inboxes = [f"bench:{TAG}:inbox:w{number}" for number in range(WORKERS)]
    await client.delete(group, *inboxes)
    for number in range(WORKERS):
        await client.zadd(group, {f"w:w{number}": time.time() + 3600})
    script = client.register_script(SEND_TO_GROUP)
    readers = [
        asyncio.create_task(read_list(port, inbox, messages)) for inbox in inboxes
    ]
    await publish(
        messages,
        lambda raw: script(keys=[group], args=[raw, f"bench:{TAG}:inbox:", 60]),
    )
    return sum(await asyncio.gather(*readers))


async def read_list(port, key, expected):
    reader = aioredis.Redis(port=port)
    got = 0
    try:
        while got < expected:
            popped = await reader.blmpop(5, 1, key, direction="LEFT", count=256)
            if popped is None:
                break
            got += len(popped[1])
    finally:
        await reader.aclose()
    return got


async def sharded_pubsub(client, port, messages):
    channel = f"bench:{TAG}:g"
    subscribed = []
    readers = []
    for _ in range(WORKERS):
        ready = asyncio.Event()
        subscribed.append(ready)
        readers.append(
            asyncio.create_task(read_channel(port, channel, messages, ready))
        )
    await asyncio.gather(*(ready.wait() for ready in subscribed))
    await publish(messages, lambda raw: client.spublish(channel, raw))
    return sum(await asyncio.gather(*readers))


async def read_channel(port, channel, expected, ready):
    reader = aioredis.Redis(port=port)
    pubsub = reader.pubsub()
    got = 0
    try:
        await pubsub.ssubscribe(channel)
        while await pubsub.get_message(timeout=5) is None:
            pass  # until the subscription is confirmed
        ready.set()
        while got < expected:
            message = await pubsub.get_message(timeout=5)
            if message is None:
                break
            got += message["type"] == "smessage"
    finally:
        await pubsub.aclose()
        await reader.aclose()
    return got
