"""The echo endpoint on a real daphne, reached by a real WebSocket client."""

import asyncio
import os

import pytest
import websockets

from tests import servers
from tests.client import connect, expect_nothing, http_get, receive

pytestmark = [pytest.mark.server, pytest.mark.once]


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("hello", id="text"),
        pytest.param("héllo wörld ✓ 你好 🎉", id="unicode"),
        pytest.param("", id="empty-text"),
        pytest.param(b"", id="empty-binary"),
        pytest.param(bytes(range(256)), id="binary"),
        pytest.param(os.urandom(1024 * 1024), id="1MiB-binary"),
    ],
)
async def test_message_comes_back_with_its_own_type_and_bytes(echo_server, message):
    async with connect(echo_server) as websocket:
        await websocket.send(message)
        echoed = await receive(websocket)
    assert type(echoed) is type(message)
    assert echoed == message


async def test_two_hundred_messages_come_back_in_order(echo_server):
    sent = [f"message {number}" for number in range(200)]
    async with connect(echo_server) as websocket:
        for message in sent:
            await websocket.send(message)
        received = [await receive(websocket) for _ in sent]
    assert received == sent


async def test_two_clients_hear_only_their_own_messages(echo_server):
    async with connect(echo_server) as alice, connect(echo_server) as bob:
        await alice.send("from alice")
        await bob.send(b"from bob")
        assert await receive(alice) == "from alice"
        assert await receive(bob) == b"from bob"
        await expect_nothing(alice)
        await expect_nothing(bob)


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["chat", "superchat"], "chat"),
        (["superchat", "chat"], "superchat"),
        (["unknown", "superchat"], "superchat"),
        (["unknown"], None),
        (None, None),
    ],
)
async def test_subprotocol_is_the_first_offered_that_the_server_supports(
    echo_server, offered, chosen
):
    options = {"subprotocols": offered} if offered else {}
    # The client library refuses a handshake without one of its offers, as it
    # should; the raw header is what this test is about.
    async with connect(echo_server, **options) as websocket:
        assert websocket.response.headers.get("Sec-WebSocket-Protocol") == chosen


async def test_client_close_is_answered_with_the_same_code(echo_server):
    async with connect(echo_server) as websocket:
        await websocket.close(code=4001, reason="done here")
    assert websocket.protocol.close_rcvd.code == 4001


async def test_oversized_message_closes_with_1009_and_a_reason(echo_server):
    async with connect(echo_server) as websocket:
        await websocket.send(b"x" * (1024 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(websocket)
    assert closed.value.rcvd.code == 1009
    assert closed.value.rcvd.reason


async def test_service_keeps_serving_after_a_connection_is_closed_for_size(
    echo_server,
):
    async with connect(echo_server) as websocket:
        await websocket.send(b"x" * (1024 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed):
            await receive(websocket)
    async with connect(echo_server) as websocket:
        await websocket.send("still here")
        assert await receive(websocket) == "still here"


async def test_maximum_message_size_comes_from_the_environment(start_daphne):
    server = await asyncio.to_thread(start_daphne, WEBSOCKET_MAX_MESSAGE_SIZE="1000")
    async with connect(server) as websocket:
        await websocket.send(b"a" * 1000)
        assert await receive(websocket) == b"a" * 1000
        await websocket.send(b"a" * 1001)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(websocket)
    assert closed.value.rcvd.code == 1009


async def test_each_received_message_is_logged_with_the_peer_address(start_daphne):
    server = await asyncio.to_thread(start_daphne)
    long_text = "L" * 100
    async with connect(server) as websocket:
        for message in ["hello log", long_text, b"12345"]:
            await websocket.send(message)
            await receive(websocket)
        host, port = websocket.local_address[:2]
    log = server.log
    assert f"INFO echo.consumers: {host}:{port} sent: hello log" in log
    assert f"{host}:{port} sent: {'L' * 80}\n" in log
    assert f"{host}:{port} sent: 5 bytes" in log


def test_page_and_its_static_files_are_served_with_debug_off(echo_server):
    status, headers, body = http_get(echo_server, "/")
    assert status == 200
    assert b'id="log"' in body
    status, headers, script = http_get(echo_server, "/static/echo/client.js")
    assert status == 200
    assert b"new WebSocket" in script


def test_starting_without_secret_key_and_debug_off_explains_in_one_line():
    env = servers.service_environment(DEBUG="0")
    del env["SECRET_KEY"]
    assert servers.refused_start(env) == [
        "Configuration error: SECRET_KEY is not set; set it (any long random "
        "string) or set DEBUG=1"
    ]
