"""Group echo through a Redis outage: plain echo unaffected, groups closed with
1013 and a reason, logged once, and working again when Redis returns."""

import asyncio

import pytest
import websockets

from tests import servers
from tests.client import connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once]


@pytest.fixture
def redis_server(logs_dir):
    redis = servers.start_redis(logs_dir)
    yield redis
    redis.stop()


def restart(redis, logs_dir):
    return servers.start_redis(logs_dir, port=redis.port)


async def closed_with(websocket):
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(websocket)
    return closed.value.rcvd


async def test_group_echo_through_a_redis_outage(redis_server, start_daphne, logs_dir):
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    worker = await asyncio.to_thread(start_daphne, REDIS_URL=url)

    async with connect(worker, "/ws/echo/room/") as member, connect(worker) as plain:
        await member.send("before")
        assert await receive(member) == "before"

        redis_server.stop()
        close = await closed_with(member)
        assert (close.code, close.reason) == (1013, "group messaging unavailable")

        for _ in range(3):
            async with connect(worker, "/ws/echo/room/") as latecomer:
                close = await closed_with(latecomer)
                assert close.code == 1013

        await plain.send("plain echo needs no Redis")
        assert await receive(plain) == "plain echo needs no Redis"

    assert worker.log.count("Redis channel layer unavailable") == 1

    revived = await asyncio.to_thread(restart, redis_server, logs_dir)
    try:
        async with connect(worker, "/ws/echo/room/") as member:
            await member.send("after")
            assert await receive(member) == "after"
        assert "Redis channel layer available again" in worker.log
    finally:
        revived.stop()
