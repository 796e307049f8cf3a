"""The server never sends a close code RFC 6455 reserves or leaves unassigned,
whatever the application asks for (section 7.4)."""

import pytest
import websockets

from tests.client import receive

pytestmark = [pytest.mark.server, pytest.mark.once]


@pytest.fixture(scope="module")
def close_app(start_module_daphne):
    return start_module_daphne(application="tests.apps.close_with:application")


async def close_code_for(server, asked):
    url = f"ws://127.0.0.1:{server.port}/?code={asked}"
    async with websockets.connect(url) as websocket:
        with pytest.raises(websockets.ConnectionClosed):
            await receive(websocket)
        return websocket.close_code, websocket.close_reason


@pytest.mark.parametrize(
    "asked", [1000, 1001, 1003, 1007, 1008, 1011, 1013, 1014, 3000, 4999]
)
async def test_a_code_an_endpoint_may_send_goes_out_as_asked(close_app, asked):
    assert await close_code_for(close_app, asked) == (asked, "asked")


@pytest.mark.parametrize("asked", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
async def test_a_reserved_or_unassigned_code_goes_out_as_1011(close_app, asked):
    assert await close_code_for(close_app, asked) == (1011, "asked")
