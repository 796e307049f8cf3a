"""The failover mode: how long a Redis master's death interrupts group
delivery across workers, on a Redis Cluster and on Sentinel.

Two workers, one per core, share the Redis setup; a group has a member on
each and a sender streaming numbered messages every few milliseconds. The
master that holds the group is SIGKILLed. Measured from the kill:

- ``told_s``: until both members were closed with 1013 (delivery could not be
  vouched for), and whether what each received was an unbroken prefix of what
  was sent (``broken`` counts the members for which it was not: must be 0);
- ``live_again_s``: until a message sent on one worker reaches a new member
  on the other again, tried every 100 ms.
"""

import asyncio
import time

import websockets

from bench import targets
from harness.group_probe import (
    live_across,
    received_until_closed,
    stream_until_closed,
)
from server.extensions.redis_connections import cluster_hash_tag

GROUP = "failover"
SEND_EVERY_SECONDS = 0.005
GIVE_UP_SECONDS = 60
CLUSTER_PARTITIONS = 16


async def measure_failover(plan):
    rows = []
    # A quick run fails over one setup; the suite's failover tests do both.
    for name, start, kill in SETUPS[1:] if plan.quick else SETUPS:
        redis = await asyncio.to_thread(start)
        workers = []
        try:
            for core in (targets.SERVER_CORE, targets.CLIENT_CORE):
                workers.append(
                    targets.ours(
                        cores=(core,), REDIS_URL=redis.url, REDIS_SOCKET_TIMEOUT="1.5"
                    ).start()
                )
            rows.append({"target": name, **await one_failover(workers, redis, kill)})
        finally:
            for server in workers:
                server.stop()
            redis.stop()
    return rows


def kill_cluster(cluster):
    cluster.kill_master_serving(cluster_hash_tag(GROUP, CLUSTER_PARTITIONS))


def kill_sentinel(sentinels):
    sentinels.kill_master()


SETUPS = (
    ("Redis Cluster, 3 masters + 3 replicas", targets.redis_cluster, kill_cluster),
    ("Sentinel, master + replica, 3 Sentinels", targets.redis_sentinels, kill_sentinel),
)


async def one_failover(workers, redis, kill):
    near, far = workers
    path = f"/ws/echo/{GROUP}/"
    async with (
        websockets.connect(near.url_for(path), max_queue=None) as sender,
        websockets.connect(far.url_for(path), max_queue=None) as listener,
    ):
        sent = []
        streaming = asyncio.create_task(
            stream_until_closed(sender, sent, SEND_EVERY_SECONDS)
        )
        members = [
            asyncio.create_task(received_until_closed(m)) for m in (sender, listener)
        ]
        await asyncio.sleep(0.5)
        killed = time.perf_counter()
        await asyncio.to_thread(kill, redis)
        closes = await asyncio.wait_for(asyncio.gather(*members), GIVE_UP_SECONDS)
        told = time.perf_counter() - killed
        live_again = await live_across(near, far, GIVE_UP_SECONDS) - killed
        await streaming
    return {
        "told_s": told,
        "live_again_s": live_again,
        "sent_before_told": len(sent),
        "closed_1013": sum(code == 1013 for _, code in closes),
        "broken": sum(got != sent[: len(got)] for got, _ in closes),
    }
