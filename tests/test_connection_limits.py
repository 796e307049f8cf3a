"""Connection limits per worker and per client address, on a real daphne:
the handshake past a limit is refused with 503, and the worker serves on."""

import contextlib

import pytest
import websockets

from tests.client import connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once]


@pytest.fixture(scope="module")
def small(start_module_daphne):
    """A worker for 4 connections, 2 per address, behind a trusted proxy header."""
    return start_module_daphne(
        extra_args=["--proxy-headers"],
        WEBSOCKET_MAX_CONNECTIONS="4",
        WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS="2",
    )


def from_address(address):
    return {"additional_headers": {"X-Forwarded-For": address}}


async def refusal(server, **options):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(server, **options):
            pass
    return refused.value.response.status_code, refused.value.response.reason_phrase


async def test_a_third_connection_from_one_address_is_refused_with_503(small):
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(connect(small, **from_address("10.0.0.1")))
        status, reason = await refusal(small, **from_address("10.0.0.1"))
        assert status == 503 and "from this address" in reason
        async with connect(small, **from_address("10.0.0.2")) as other:
            await other.send("another address still gets in")
            assert await receive(other) == "another address still gets in"


async def test_past_the_workers_limit_every_address_is_refused_with_503(small):
    async with contextlib.AsyncExitStack() as stack:
        for number in range(4):
            await stack.enter_async_context(
                connect(small, **from_address(f"10.0.1.{number}"))
            )
        status, reason = await refusal(small, **from_address("10.0.1.99"))
        assert status == 503 and "to this worker" in reason


async def test_a_closed_connection_frees_its_place(small):
    for _ in range(3):  # more than the per-address limit, one at a time
        async with connect(small, **from_address("10.0.2.1")) as websocket:
            await websocket.send("in")
            assert await receive(websocket) == "in"


async def test_refusals_are_logged_one_line_each(small):
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(connect(small, **from_address("10.0.3.1")))
        await refusal(small, **from_address("10.0.3.1"))
    assert (
        "refused a handshake from 10.0.3.1: too many connections from this address"
        in small.log
    )
