"""Keep-alive and idleness against a real daphne: pings reach every connection,
a peer that stops answering them is dropped, an idle one is closed with 1001."""

import asyncio
import time

import pytest
import websockets

from tests.client import connect, receive
from tests.rawsocket import PING, PONG, TEXT, RawWebSocket

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]


@pytest.fixture(scope="module")
def pinging(start_module_daphne):
    """Keep-alive in seconds rather than tens of seconds; no idle timeout."""
    return start_module_daphne(
        WEBSOCKET_PING_INTERVAL="1",
        WEBSOCKET_PONG_TIMEOUT="1",
        WEBSOCKET_IDLE_TIMEOUT="0",
    )


@pytest.fixture(scope="module")
def idling(start_module_daphne):
    """Idleness is looked at with each ping: every second here."""
    return start_module_daphne(WEBSOCKET_IDLE_TIMEOUT="2", WEBSOCKET_PING_INTERVAL="1")


def test_pings_reach_every_connection_not_only_the_first(pinging):
    sockets = [RawWebSocket(pinging.port, timeout=5) for _ in range(3)]
    try:
        for socket in sockets:
            assert socket.read_frame()[1] == PING
    finally:
        for socket in sockets:
            socket.close()


def test_a_peer_that_answers_no_ping_is_dropped_within_interval_and_timeout(pinging):
    with RawWebSocket(pinging.port, timeout=10) as socket:
        started = time.monotonic()
        with pytest.raises(ConnectionError):  # reset, or closed
            while True:
                socket.read_frame()  # pings, never answered
        assert time.monotonic() - started < 1 + 1 + 1.5


def test_a_peer_that_answers_pings_stays(pinging):
    with RawWebSocket(pinging.port, timeout=5) as socket:
        for _ in range(2):  # 2 s or more: past the pong timeout
            _, opcode, payload = socket.read_frame()
            assert opcode == PING
            socket.send_frame(PONG, payload)
        socket.send_frame(TEXT, b"still here")
        assert socket.read_message() == (TEXT, b"still here")


async def test_a_connection_that_sends_nothing_is_closed_with_1001(idling):
    async with connect(idling) as websocket:
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            await receive(websocket)
        assert (websocket.close_code, websocket.close_reason) == (
            1001,
            "idle for too long",
        )
        assert 2 <= time.monotonic() - started < 2 + 1.5


async def test_a_connection_that_keeps_talking_is_not_idle(idling):
    async with connect(idling) as websocket:
        for number in range(3):  # 3 x 0.8 s: past the 2 s idle timeout
            await websocket.send(f"talk {number}")
            assert await receive(websocket) == f"talk {number}"
            await asyncio.sleep(0.8)
        assert websocket.close_code is None
