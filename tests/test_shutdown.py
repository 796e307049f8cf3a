"""Graceful shutdown: on SIGTERM a worker closes every WebSocket with 1001, so
clients reconnect at once, and exits within its bound. The worker is the plain
``daphne project.asgi:application``, so this also shows that importing the
application makes daphne's command line run our Server (server.transport)."""

import asyncio
import signal
import time

import pytest

from tests.chat_client import chat
from tests.client import close_of, connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once]


async def test_sigterm_closes_every_socket_with_1001_and_exits(start_daphne):
    worker = start_daphne()
    async with (
        connect(worker) as echo,
        connect(worker, "/ws/echo/lobby/") as member,
        chat(worker, "leaving") as talker,
    ):
        await echo.send("before")
        assert await receive(echo) == "before"
        await talker.join("shutdown")
        stopped_at = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        closes = await asyncio.gather(
            close_of(echo), close_of(member), close_of(talker.websocket)
        )
    assert closes == [(1001, "server going away")] * 3
    exit_status = await asyncio.to_thread(worker.process.wait, 10)
    assert exit_status == 0
    assert time.monotonic() - stopped_at < 5 + 1
