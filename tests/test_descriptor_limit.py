"""At its file-descriptor limit a worker refuses handshakes with 503 rather
than accepting connections it cannot answer."""

import contextlib

import pytest
import websockets

from tests import servers
from tests.client import connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once]

DESCRIPTORS = 160  # WEBSOCKET_MAX_CONNECTIONS becomes 160 - 100 = 60


@pytest.fixture
def cramped(logs_dir, server_database_url):
    port = servers.free_port()
    env = servers.service_environment(DATABASE_URL=server_database_url)
    command = [f"--nofile={DESCRIPTORS}:{DESCRIPTORS}", servers.DAPHNE]
    command += ["-b", "127.0.0.1", "-p", str(port), "project.asgi:application"]
    server = servers.start(["prlimit", *command], port, logs_dir / "cramped.log", env)
    yield server
    server.stop()


async def test_the_connection_past_the_descriptor_budget_gets_503(cramped):
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connect(cramped)) for _ in range(60)]
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(cramped):
                pass
        assert refused.value.response.status_code == 503
        await held[-1].send("the others still work")
        assert await receive(held[-1]) == "the others still work"
