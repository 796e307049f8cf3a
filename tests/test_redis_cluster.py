"""The channel layer, chat and presence on a real Redis Cluster (three masters,
a replica each, on loopback), with two daphne workers."""

import asyncio
import contextlib
import uuid

import pytest
import redis
from channels.exceptions import ChannelFull

from harness.redis_topologies import Cluster
from project.channel_layers import redis_host
from server.extensions.layers.redis_inbox import RedisInboxChannelLayer
from server.extensions.redis_connections import cluster_tags
from tests.chat_client import chat, unique
from tests.client import connect, http_get
from tests.test_group_delivery import (
    close_normally,
    collect,
    reset,
    stayers_receive_everything_while_others_churn,
)

pytestmark = [pytest.mark.server, pytest.mark.once]

PRESENCE_TTL = 2


@pytest.fixture(scope="module")
def cluster(logs_dir):
    cluster = Cluster(logs_dir)
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_workers(start_daphne, cluster):
    for node in cluster.masters().values():
        cluster.client(node).flushall()
    settings = {
        "REDIS_URL": cluster.url,
        "CHAT_RATE_BURST": "1000",
        "PRESENCE_TTL": str(PRESENCE_TTL),
    }
    return [start_daphne(**settings) for _ in range(2)]


async def test_group_messages_cross_workers_once_and_in_order(cluster_workers):
    messages = [f"message {number}" for number in range(300)]
    async with contextlib.AsyncExitStack() as stack:
        members = [
            await stack.enter_async_context(connect(worker, "/ws/echo/spread/"))
            for worker in cluster_workers
            for _ in range(2)
        ]
        receipts = [asyncio.create_task(collect(m, len(messages))) for m in members]
        for message in messages:
            await members[0].send(message)
        for received in await asyncio.gather(*receipts):
            assert received == messages


async def test_groups_land_on_every_master(cluster, cluster_workers):
    groups = [f"group-{number}" for number in range(48)]
    async with contextlib.AsyncExitStack() as stack:
        for number, group in enumerate(groups):
            worker = cluster_workers[number % 2]
            member = await stack.enter_async_context(
                connect(worker, f"/ws/echo/{group}/")
            )
            await member.send("here")
            assert await member.recv() == "here"
        holding = {
            port: sum(1 for _ in cluster.client(node).scan_iter(match="echo:*:group:*"))
            for port, node in cluster.masters().items()
        }
    assert len(holding) == 3
    assert sum(holding.values()) == len(groups)
    assert all(count > 0 for count in holding.values()), holding


def test_partitions_are_shared_evenly_by_three_masters(cluster):
    owners = [
        cluster.slot_owner(redis.crc.key_slot(f"{{{tag}}}".encode()))
        for tag in cluster_tags(16)
    ]
    assert sorted(owners.count(port) for port in set(owners)) == [5, 5, 6]


@pytest.mark.parametrize("leave", [close_normally, reset], ids=["close", "reset"])
async def test_members_who_stay_receive_everything_while_others_churn(
    cluster_workers, leave
):
    await stayers_receive_everything_while_others_churn(cluster_workers, leave, 1000)


async def test_chat_history_resume_and_presence(cluster_workers):
    near, far = cluster_workers
    room = f"room-{uuid.uuid4().hex[:8]}"
    alice, bob = unique("alice"), unique("bob")
    async with chat(near, alice) as alice_client:
        await alice_client.join(room)
        async with chat(far, bob) as bob_client:
            joined = await bob_client.join(room)
            assert joined["members"] == sorted([alice, bob])
            await alice_client.next("presence", room=room, joined=[bob])
            for number in range(5):
                await alice_client.say(room, f"live {number}")
            live = [
                (await bob_client.next("message", room=room))["id"] for _ in range(5)
            ]
        await alice_client.next("presence", room=room, left=[bob])
        for number in range(5):
            await alice_client.say(room, f"missed {number}")
            await alice_client.next("message", room=room, text=f"missed {number}")
        async with chat(far, bob) as bob_client:
            resumed = await bob_client.join(room, since=live[-1])
    assert live == [1, 2, 3, 4, 5]
    assert [m["text"] for m in resumed["messages"]] == [
        f"missed {number}" for number in range(5)
    ]


async def test_readiness_asks_every_master(cluster_workers):
    status, _, body = http_get(cluster_workers[0], "/readyz")
    assert status == 200
    assert b'"redis": "ok"' in body


def cluster_layer(cluster, **options):
    """A layer object on the cluster, standing for one worker process."""
    host = redis_host(cluster.url, {"socket_timeout": 5})
    return RedisInboxChannelLayer([host], prefix="unit", **options)


def keys_on_masters(cluster, pattern):
    return [
        key
        for node in cluster.masters().values()
        for key in cluster.client(node).scan_iter(match=pattern)
    ]


async def test_layer_on_the_cluster_keeps_named_channels_capacity_and_flush(cluster):
    sender, worker = cluster_layer(cluster, capacity=2), cluster_layer(cluster)
    await sender.send("thumbnails", {"type": "make", "id": 7})
    assert await asyncio.wait_for(worker.receive("thumbnails"), 5) == {
        "type": "make",
        "id": 7,
    }
    await sender.send("backlog", {"type": "m"})
    await sender.send("backlog", {"type": "m"})
    with pytest.raises(ChannelFull):
        await sender.send("backlog", {"type": "m"})

    channel = await worker.new_channel()
    await worker.group_add("jobs", channel)
    await worker.group_add("jobs", "archiver")
    await sender.group_send("jobs", {"type": "archive", "id": 1})
    assert await asyncio.wait_for(worker.receive(channel), 5) == {
        "type": "archive",
        "id": 1,
    }
    assert await asyncio.wait_for(worker.receive("archiver"), 5) == {
        "type": "archive",
        "id": 1,
    }
    assert keys_on_masters(cluster, "unit:*")
    await sender.flush()
    assert keys_on_masters(cluster, "unit:*") == []
    for layer in (sender, worker):
        await layer.close_pools()
