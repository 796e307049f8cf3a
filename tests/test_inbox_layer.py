"""The inbox channel layer through Channels' layer interface, on real Redis.

Two layer objects in one event loop stand for two worker processes: each has
its own worker id, inbox and reader tasks, as a process would.
"""

import asyncio

import pytest
import redis
from channels.exceptions import ChannelFull

from server.extensions.layers import ChannelLayerUnavailable
from server.extensions.layers.redis_inbox import RedisInboxChannelLayer
from tests import servers
from tests.client import wait_until

pytestmark = [pytest.mark.server, pytest.mark.once]


def layer(*urls, **options):
    options.setdefault("prefix", "test")
    hosts = [{"address": url, "socket_timeout": 5} for url in urls]
    return RedisInboxChannelLayer(hosts, **options)


@pytest.fixture
def fresh_redis(redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


async def receive(layer, channel, seconds=5):
    return await asyncio.wait_for(layer.receive(channel), seconds)


async def test_a_group_send_reaches_members_in_two_processes_once_each(fresh_redis):
    first, second = layer(fresh_redis), layer(fresh_redis)
    channels = [await first.new_channel() for _ in range(3)]
    channels.append(await second.new_channel())
    for channel, process in zip(channels, [first] * 3 + [second], strict=True):
        await process.group_add("room", channel)
    client = redis.Redis.from_url(fresh_redis)
    # The group holds processes, not channels: one copy of a message each.
    assert client.zcard("test:group:room") == 2
    await first.group_send("room", {"type": "hello", "n": 1, "raw": b"\x00"})
    for channel, process in zip(channels, [first] * 3 + [second], strict=True):
        assert await receive(process, channel) == {
            "type": "hello",
            "n": 1,
            "raw": b"\x00",
        }


async def test_cancelling_one_members_receive_loses_nothing_for_the_others(
    fresh_redis,
):
    # What Channels does when a consumer's connection closes: it cancels the
    # consumer's pending receive, here while another member's is pending too.
    process = layer(fresh_redis, capacity=1000)
    staying = await process.new_channel()
    await process.group_add("churn", staying)
    received = []

    async def collect():
        while True:
            received.append((await process.receive(staying))["n"])

    collector = None
    for number in range(200):
        leaving = await process.new_channel()
        await process.group_add("churn", leaving)
        collector = collector or asyncio.ensure_future(collect())
        await process.group_send("churn", {"type": "m", "n": number})
        assert (await receive(process, leaving))["n"] == number
        waiting = asyncio.ensure_future(process.receive(leaving))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await process.group_discard("churn", leaving)
    await wait_until(lambda: len(received) >= 200)
    collector.cancel()
    assert received == list(range(200))


async def test_named_channel_is_read_by_whichever_process_receives_on_it(
    fresh_redis,
):
    sender, worker = layer(fresh_redis), layer(fresh_redis)
    await sender.send("thumbnails", {"type": "make", "id": 7})
    assert await receive(worker, "thumbnails") == {"type": "make", "id": 7}


async def test_named_channel_refuses_messages_past_its_capacity(fresh_redis):
    sender = layer(fresh_redis, capacity=2)
    await sender.send("backlog", {"type": "m"})
    await sender.send("backlog", {"type": "m"})
    with pytest.raises(ChannelFull):
        await sender.send("backlog", {"type": "m"})


async def test_named_channel_in_a_group_gets_group_messages(fresh_redis):
    process = layer(fresh_redis)
    await process.group_add("jobs", "archiver")
    await process.group_send("jobs", {"type": "archive", "id": 1})
    assert await receive(process, "archiver") == {"type": "archive", "id": 1}
    await process.group_discard("jobs", "archiver")
    await process.group_send("jobs", {"type": "archive", "id": 2})
    assert redis.Redis.from_url(fresh_redis).llen("test:channel:archiver") == 0


async def test_consumer_that_falls_capacity_behind_is_told(fresh_redis):
    process = layer(fresh_redis, capacity=3)
    channel = await process.new_channel()
    await process.group_add("fast", channel)
    for number in range(4):
        await process.group_send("fast", {"type": "m", "n": number})
    # The fourth event overflows the queue as the reader hands it over.
    queue = process.local.queues[channel]
    await wait_until(lambda: queue._error is not None)
    with pytest.raises(ChannelFull):
        await receive(process, channel)


async def test_channel_of_another_process_cannot_be_received_here(fresh_redis):
    first, second = layer(fresh_redis), layer(fresh_redis)
    channel = await first.new_channel()
    with pytest.raises(ValueError, match="another process"):
        await second.receive(channel)


async def test_groups_and_channels_spread_over_several_redis_servers(
    fresh_redis, logs_dir
):
    second_redis = servers.start_redis(logs_dir)
    try:
        urls = [fresh_redis, f"redis://127.0.0.1:{second_redis.port}/0"]
        first, second = layer(*urls), layer(*urls)
        groups = [f"shard{number}" for number in range(12)]
        members = {}
        for group in groups:
            members[group] = await second.new_channel()
            await second.group_add(group, members[group])
        for group in groups:
            await first.group_send(group, {"type": "m", "group": group})
        for group in groups:
            assert (await receive(second, members[group]))["group"] == group
        holding = [redis.Redis.from_url(url).keys("test:group:*") for url in urls]
        assert all(holding), "every group landed on one server"
    finally:
        second_redis.stop()


async def test_unreachable_redis_fails_every_local_channel(logs_dir):
    gone = servers.start_redis(logs_dir)
    url = f"redis://127.0.0.1:{gone.port}/0"
    process = layer(url)
    channel = await process.new_channel()
    await process.group_add("doomed", channel)
    gone.stop()
    with pytest.raises(ChannelLayerUnavailable):
        await receive(process, channel, seconds=10)
    with pytest.raises(ChannelLayerUnavailable):
        await process.group_send("doomed", {"type": "m"})


async def test_stopping_ends_every_reader_even_if_the_client_swallows_the_cancel(
    fresh_redis, monkeypatch
):
    # redis-py may turn a cancellation into an error of its own and leave the
    # task not cancelling (an expiring timeout of its own uncancels it): a
    # reader that counted on the cancel looped for good, and the event loop's
    # shutdown waited for it (a hang seen in CI, at a test's teardown).
    from server.extensions import redis_connections

    waiting = set()

    async def swallowing_the_cancel(error):
        waiting.add(asyncio.current_task())
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            raise error from None

    async def pop_swallowing_the_cancel(client, key, block_seconds, count):
        await swallowing_the_cancel(redis.ConnectionError("Connection closed"))

    async def join_swallowing_the_cancel(groups, member, lifetime):
        await swallowing_the_cancel(ChannelLayerUnavailable("Connection closed"))

    # A heartbeat every 0.1 s, so that it too is soon in the swallowing client.
    process = layer(fresh_redis, membership_ttl=0.3)
    monkeypatch.setattr(process, "_join", join_swallowing_the_cancel)
    await process.new_channel()
    receiving = asyncio.create_task(process.receive("jobs"))
    await wait_until(lambda: "jobs" in process._named_readers)
    monkeypatch.setattr(redis_connections, "pop_batch", pop_swallowing_the_cancel)
    tasks = [*process._tasks, *process._named_readers.values()]
    # Each reader (one an inbox partition, and the named channel's) comes to
    # the client that swallows cancels at its next read, the heartbeat at its
    # next beat.
    readers = len(process.partitions) + 1
    await wait_until(lambda: len(waiting) == readers + 1, process.block_seconds * 3)
    receiving.cancel()
    await process.close_pools()
    done, pending = await asyncio.wait(tasks, timeout=5)
    assert pending == set()
