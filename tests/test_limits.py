"""Per-endpoint limits against real daphne workers: message size and rate."""

import asyncio
import contextlib
import json
import uuid

import pytest
import websockets

from server.extensions.limits import Rate, TokenBucket, exceeds
from tests.chat_client import chat, unique
from tests.client import close_of, connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once]

CHAT_MAX_MESSAGE_SIZE = 16 * 1024


@pytest.fixture(scope="module")
def limited(start_module_daphne):
    """One worker with the chat defaults and a small echo rate, to provoke."""
    return start_module_daphne(ECHO_RATE_PER_SECOND="5", ECHO_RATE_BURST="10")


@pytest.fixture
def room():
    return f"limits-{uuid.uuid4().hex[:8]}"


async def test_a_chat_message_over_its_endpoints_size_closes_with_1009(limited, room):
    async with chat(limited, unique("big")) as client:
        await client.join(room)
        text = "x" * CHAT_MAX_MESSAGE_SIZE
        await client.websocket.send(json.dumps({"type": "message", "text": text}))
        code, reason = await close_of(client.websocket)
    assert (code, reason) == (1009, f"message exceeds {CHAT_MAX_MESSAGE_SIZE} bytes")


async def test_a_chat_message_counts_bytes_not_characters(limited, room):
    async with chat(limited, unique("wide")) as client:
        await client.join(room)
        # 5,000 characters, 20,000 bytes: within the text limit in characters
        # (4,000 is checked after), over the endpoint's 16 KiB in bytes.
        await client.websocket.send(json.dumps({"text": "😀" * 5000}))
        code, _ = await close_of(client.websocket)
    assert code == 1009


async def test_an_echo_message_of_a_mebibyte_is_still_echoed(limited):
    async with connect(limited) as websocket:
        await websocket.send(b"e" * 1024 * 1024)
        assert len(await receive(websocket)) == 1024 * 1024


async def answers(client, count):
    """The next ``count`` replies that answer a ``message``: the stored message
    or an error, in the order they arrive."""
    replies = []
    while len(replies) < count:
        reply = json.loads(await receive(client.websocket))
        if reply["type"] in ("message", "error"):
            replies.append(reply)
    return replies


async def test_chat_messages_over_the_rate_get_rate_limited_errors(limited, room):
    async with chat(limited, unique("fast")) as client:
        await client.join(room)  # one token of the burst of 20
        for number in range(25):
            await client.say(room, f"m{number}", client_id=f"c{number}")
        replies = await answers(client, 25)
    stored = [reply["client_id"] for reply in replies if reply["type"] == "message"]
    refused = [reply for reply in replies if reply["type"] == "error"]
    # Each message is either stored or refused, never both or neither; what
    # refilled while the first were stored may let one or two more through.
    assert sorted(stored + [error["ref"] for error in refused]) == sorted(
        f"c{number}" for number in range(25)
    )
    assert stored[:19] == [f"c{number}" for number in range(19)]
    assert len(refused) >= 4
    assert {error["code"] for error in refused} == {"rate_limited"}


async def test_a_chat_client_that_keeps_flooding_is_closed_with_1008(limited, room):
    async with chat(limited, unique("flood")) as client:
        await client.join(room)
        with contextlib.suppress(websockets.ConnectionClosed):
            for number in range(200):
                await client.say(room, f"m{number}")
        code, reason = await close_of(client.websocket)
    assert (code, reason) == (1008, "rate limit exceeded")


async def test_the_rate_refills_so_a_client_that_slows_down_goes_on(limited, room):
    async with chat(limited, unique("patient")) as client:
        await client.join(room)
        for number in range(30):
            await client.say(room, f"m{number}")
        replies = await answers(client, 30)
        assert any(reply["type"] == "error" for reply in replies)
        # The refill is the behaviour: at 10 a second, 0.3 s brings 3 tokens.
        await asyncio.sleep(0.3)
        await client.say(room, "after a pause")
        assert (await client.next("message", room=room))["text"] == "after a pause"


async def test_an_echo_client_over_its_rate_is_closed_with_1008(limited):
    async with connect(limited) as websocket:
        for number in range(11):
            await websocket.send(f"e{number}")
        echoed = [await receive(websocket) for _ in range(10)]
        code, reason = await close_of(websocket)
    assert echoed == [f"e{number}" for number in range(10)]
    assert (code, reason) == (1008, "rate limit exceeded")


def test_a_bucket_lets_a_burst_through_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(Rate(per_second=10, burst=3), clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1
    assert [bucket.take(), bucket.take()] == [True, False]
    assert not bucket.flooding
    assert [bucket.take(), bucket.take()] == [False, False]
    assert bucket.flooding


@pytest.mark.parametrize(
    ("text", "data", "over"),
    [
        ("a" * 16, None, False),
        ("a" * 17, None, True),
        ("é" * 8, None, False),
        ("é" * 9, None, True),
        (None, b"b" * 17, True),
        ("", None, False),
    ],
)
def test_message_size_counts_utf8_bytes(text, data, over):
    assert exceeds(16, text, data) is over
