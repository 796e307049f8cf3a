"""The application on granian and uvicorn as well as daphne: each server runs
two processes of ``project.asgi:application`` sharing Redis and the
database, and the echo, a group, the chat and the HTTP API behave as they
do on daphne. What only daphne gets (its transport patches) is listed in
docs/transport.md."""

import asyncio
import json
import urllib.request
import uuid

import pytest

from harness.event_stream import EventStream, send
from tests import servers
from tests.chat_client import chat
from tests.client import close_of, connect, expect_nothing, http_get, receive

pytestmark = [pytest.mark.server, pytest.mark.once]

KEY = "other-servers-key"


@pytest.fixture(scope="module", params=sorted(servers.OTHER_SERVERS))
def pair(request, logs_dir, server_database_url, redis_url):
    env = servers.service_environment(
        DATABASE_URL=server_database_url, REDIS_URL=redis_url, API_KEYS=KEY
    )
    started = [
        servers.start_other_server(request.param, logs_dir, env) for _ in range(2)
    ]
    yield started
    for server in started:
        server.stop()


async def test_the_echo_returns_each_message_with_its_type(pair):
    async with connect(pair[0]) as websocket:
        for message in ("hello", "", b"\x00\xff", "é" * 1000):
            await websocket.send(message)
            assert await receive(websocket) == message
        await websocket.close(1000)
    assert websocket.close_code == 1000


async def test_a_chat_message_over_its_limit_is_closed_with_1009(pair):
    """CHAT_MAX_MESSAGE_SIZE is the consumer's, so it holds on every server
    (WEBSOCKET_MAX_MESSAGE_SIZE is daphne's transport: docs/transport.md)."""
    async with connect(pair[0], "/ws/chat/?name=big") as websocket:
        await websocket.send("x" * (16 * 1024 + 1))
        assert (await close_of(websocket))[0] == 1009


async def test_a_group_message_reaches_its_members_on_both_processes_once(pair):
    group = f"other-{uuid.uuid4().hex[:8]}"
    # Open means joined: a member is in its group before its handshake ends.
    async with (
        connect(pair[0], f"/ws/echo/{group}/") as first,
        connect(pair[1], f"/ws/echo/{group}/") as second,
    ):
        await first.send("to everyone")
        await second.send("and back")
        for member in (first, second):
            heard = {await receive(member), await receive(member)}
            assert heard == {"to everyone", "and back"}
            await expect_nothing(member)


async def test_a_chat_message_reaches_both_and_since_brings_what_was_missed(pair):
    room = f"other-{uuid.uuid4().hex[:8]}"
    async with chat(pair[0], "ann") as ann, chat(pair[1], "ben") as ben:
        joined = await ann.join(room)
        await ben.join(room)
        await ann.say(room, "over two servers")
        assert (await ben.next("message", room=room))["text"] == "over two servers"
    async with chat(pair[1], "ben") as ben:
        await ben.join(room)
        await ben.say(room, "while ann was away")
        await ben.next("message", room=room)
    async with chat(pair[0], "ann") as ann:
        again = await ann.join(room, since=1, epoch=joined["epoch"])
    assert [m["text"] for m in again["messages"]] == ["while ann was away"]


async def test_the_api_publishes_to_a_group_member_on_the_other_process(pair):
    group = f"api-{uuid.uuid4().hex[:8]}"
    async with connect(pair[1], f"/ws/echo/{group}/") as member:
        request = urllib.request.Request(
            f"http://127.0.0.1:{pair[0].port}/api/groups/{group}/send",
            data=json.dumps({"data": "from the API"}).encode(),
            headers={
                "Authorization": f"Bearer {KEY}",
                "Content-Type": "application/json",
            },
        )
        with await asyncio.to_thread(
            urllib.request.urlopen, request, timeout=10
        ) as answer:
            assert answer.status == 202
        assert await receive(member) == "from the API"


def test_the_pages_and_health_checks_answer(pair):
    status, headers, body = http_get(pair[0], "/chat/")
    assert status == 200 and b'id="messages"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert http_get(pair[1], "/readyz")[0] == 200


async def test_the_http_fallback_chats_with_a_websocket_member_on_the_other_process(
    pair,
):
    """The event stream on one process, a WebSocket member on the other; the
    stream's POST lands on the process that holds it or on the other."""
    room, name = f"other-sse-{uuid.uuid4().hex[:6]}", f"sse{uuid.uuid4().hex[:6]}"
    stream = EventStream(pair[0].port, f"/sse/chat/?name={name}")
    assert await stream.open() == 200
    assert (await stream.next_event())[0] == "session"

    async def next_of(kind):
        async with asyncio.timeout(20):
            while (message := await stream.next_message())["type"] != kind:
                pass
            return message

    try:
        assert await send(pair[0].port, stream, {"type": "join", "room": room}) == 202
        await next_of("joined")
        async with chat(pair[1], "ben") as ben:
            await ben.join(room)
            await ben.say(room, "from the websocket")
            assert (await next_of("message"))["text"] == "from the websocket"
            said = {"type": "message", "room": room, "text": "from http"}
            assert await send(pair[1].port, stream, said) == 202
            heard = await ben.next("message", room=room, text="from http")
            assert heard["author"] == name
    finally:
        stream.close()
