"""Group echo across two real daphne processes sharing a real Redis."""

import contextlib
from urllib.parse import quote

import pytest
import redis
import websockets

from tests.client import connect, expect_nothing, receive, wait_until

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

MEMBERS_PER_WORKER = 5
MESSAGES = 200


@pytest.fixture(scope="module")
def one_worker(start_module_daphne, redis_url):
    """A worker the name checks share: they leave nothing in Redis."""
    return start_module_daphne(REDIS_URL=redis_url)


def group_keys(redis_url):
    return redis.Redis.from_url(redis_url).keys("echo:group:*")


async def join(workers, group, per_worker):
    stack = contextlib.AsyncExitStack()
    members = [
        await stack.enter_async_context(connect(worker, f"/ws/echo/{group}/"))
        for worker in workers
        for _ in range(per_worker)
    ]
    return stack, members


async def test_every_member_on_either_worker_receives_every_message_in_order(
    redis_workers,
):
    stack, members = await join(redis_workers, "lobby", MEMBERS_PER_WORKER)
    async with stack:
        sent = [f"message {number}" for number in range(MESSAGES)]
        for message in sent:
            await members[0].send(message)
        for member in members:
            assert [await receive(member) for _ in sent] == sent


async def test_text_binary_and_empty_messages_keep_their_type(redis_workers):
    stack, members = await join(redis_workers, "types", 1)
    async with stack:
        for message in ["text ✓", b"\x00binary", "", b""]:
            await members[1].send(message)
            for member in members:
                echoed = await receive(member)
                assert type(echoed) is type(message)
                assert echoed == message


async def test_another_group_hears_nothing(redis_workers):
    stack, members = await join(redis_workers, "talkers", 1)
    async with stack, connect(redis_workers[1], "/ws/echo/listeners/") as outsider:
        await members[0].send("for talkers only")
        assert await receive(members[1]) == "for talkers only"
        await expect_nothing(outsider)


async def test_member_hears_messages_sent_the_moment_its_connection_opens(
    redis_workers,
):
    stack, (sender, _) = await join(redis_workers, "newcomers", 1)
    async with stack:
        for attempt in range(20):
            async with connect(redis_workers[1], "/ws/echo/newcomers/") as newcomer:
                await sender.send(f"welcome {attempt}")
                assert await receive(newcomer) == f"welcome {attempt}"
            assert await receive(sender) == f"welcome {attempt}"


def blocking_reads(redis_url):
    """How many blocking reads for messages Redis has finished, timed out or not."""
    stats = redis.Redis.from_url(redis_url).info("commandstats")
    return stats.get("cmdstat_blmpop", {}).get("calls", 0)


async def test_idle_member_outlasts_the_layers_blocking_wait_for_messages(
    start_daphne, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    workers = [
        start_daphne(REDIS_URL=redis_url, REDIS_SOCKET_TIMEOUT="1.5") for _ in range(2)
    ]
    stack, members = await join(workers, "quiet", 1)
    async with stack:
        # Two more reads finished with nothing sent: each worker's wait timed
        # out with its member idle (both wait the same 0.6 s).
        reads = blocking_reads(redis_url)
        await wait_until(lambda: blocking_reads(redis_url) >= reads + 2)
        await members[0].send("still there?")
        for member in members:
            assert await receive(member) == "still there?"


async def test_worker_whose_last_member_left_is_out_of_the_group_at_once(
    redis_workers, redis_url
):
    # The group holds worker processes with members, not members.
    stack, members = await join(redis_workers, "leavers", 2)
    async with stack:
        client = redis.Redis.from_url(redis_url)
        (key,) = group_keys(redis_url)
        assert client.zcard(key) == 2
        await members[3].close()
        await members[0].send("one left")
        assert await receive(members[2]) == "one left"
        await members[2].close()
        await wait_until(lambda: client.zcard(key) == 1)
        await members[0].send("after the departure")
        assert await receive(members[0]) == "one left"
        assert await receive(members[1]) == "one left"
        for member in members[:2]:
            assert await receive(member) == "after the departure"


async def test_no_membership_is_left_in_redis_after_everyone_disconnects(
    redis_workers, redis_url
):
    stack, members = await join(redis_workers, "ephemeral", MEMBERS_PER_WORKER)
    async with stack:
        assert group_keys(redis_url)
    await wait_until(lambda: group_keys(redis_url) == [])


@pytest.mark.parametrize(
    "group",
    ["has space", "a" * 81, "semi;colon", "ünïcode", "slash/in", "star*", "lobby\n"],
)
async def test_invalid_group_name_is_refused_at_the_handshake(one_worker, group):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(one_worker, f"/ws/echo/{quote(group, safe='')}/"):
            pass
    assert refused.value.response.status_code == 403


async def test_longest_allowed_group_name_is_accepted(one_worker):
    async with connect(one_worker, f"/ws/echo/{'g.-_' * 20}/") as member:
        await member.send("ok")
        assert await receive(member) == "ok"
