"""Origin policy at the handshake: foreign origins refused, no origin accepted."""

import pytest
import websockets

from tests.client import connect, receive
from tests.rawsocket import RawWebSocket

pytestmark = [pytest.mark.server, pytest.mark.once]


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1", "http://localhost:8000", "https://localhost"]
)
async def test_origin_naming_an_allowed_host_is_accepted(echo_server, origin):
    async with connect(echo_server, origin=origin) as websocket:
        await websocket.send("hi")
        assert await receive(websocket) == "hi"


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1.evil.example", "null"]
)
async def test_origin_naming_another_host_is_refused_with_403(echo_server, origin):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(echo_server, origin=origin):
            pass
    assert refused.value.response.status_code == 403


async def test_remembered_verdicts_stay_what_they_were(echo_server):
    # Each origin's verdict is cached (server/operations/middleware/origin.py);
    # alternate to check
    # that one origin's answer never leaks into another's.
    for _ in range(3):
        with pytest.raises(websockets.InvalidStatus):
            async with connect(echo_server, origin="http://evil.example"):
                pass
        async with connect(echo_server, origin="http://127.0.0.1") as websocket:
            await websocket.send("still welcome")
            assert await receive(websocket) == "still welcome"


async def test_client_without_origin_is_accepted(echo_server):
    async with connect(echo_server, origin=None) as websocket:
        await websocket.send("no origin")
        assert await receive(websocket) == "no origin"


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/echo/a/b/", "/"])
async def test_unknown_websocket_path_is_refused_with_403(echo_server, path):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(echo_server, path):
            pass
    assert refused.value.response.status_code == 403


ENDPOINTS = ["/ws/echo/", "/ws/echo/lobby/", "/ws/chat/?name=origin-test"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_foreign_page_cannot_open_a_socket_on_any_endpoint(echo_server, path):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(echo_server, path, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_client_without_origin_opens_every_endpoint(echo_server, path):
    async with connect(echo_server, path) as websocket:
        assert websocket.response.status_code == 101


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", ""])
def test_a_handshake_for_a_host_not_allowed_is_refused_with_403(echo_server, host):
    with pytest.raises(ConnectionError, match=" 403 "):
        RawWebSocket(echo_server.port, host=host)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:9"])
def test_a_handshake_for_an_allowed_host_is_accepted(echo_server, host):
    RawWebSocket(echo_server.port, host=host).close()
