"""The HTTP fallback against real daphne workers: the chat over server-sent
events and POST, with the WebSocket's rules (session, Origin, limits, close
codes), a POST landing on any worker, and a clear JSON answer to each bad
request."""

import asyncio
import json
import uuid

import pytest
import redis

from clients.chat import OPEN, ChatClient
from harness.event_stream import EventStream, StreamClosed, post, send
from tests.chat_client import chat

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

STREAM = "/sse/chat/"
SECONDS = 20


async def opened(server, name, headers=()):
    stream = EventStream(server.port, f"{STREAM}?name={name}", headers)
    assert await stream.open() == 200
    assert stream.response_headers["content-type"].startswith("text/event-stream")
    assert (await stream.next_event())[0] == "session"
    return stream


async def until(stream, kind, **fields):
    async with asyncio.timeout(SECONDS):
        while True:
            message = await stream.next_message()
            if message["type"] == kind and all(
                message.get(k) == v for k, v in fields.items()
            ):
                return message


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


async def test_a_stream_chats_with_a_websocket_member_both_ways(start_daphne):
    server = start_daphne()
    room, alice = unique("sse-"), unique("alice")
    stream = await opened(server, alice)
    try:
        assert await send(server.port, stream, {"type": "join", "room": room}) == 202
        await until(stream, "joined", room=room)
        async with chat(server, unique("bob")) as bob:
            await bob.join(room)
            await bob.say(room, "from the websocket")
            assert (await until(stream, "message"))["text"] == "from the websocket"
            said = {"type": "message", "room": room, "text": "from http"}
            assert await send(server.port, stream, {**said, "client_id": "h1"}) == 202
            assert (await until(stream, "ack", ref="h1"))["id"] == 2
            heard = await bob.next("message", room=room, text="from http")
            assert heard["author"] == alice
    finally:
        stream.close()


async def test_a_post_may_land_on_another_worker(start_daphne, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    near, far = (start_daphne(REDIS_URL=redis_url) for _ in range(2))
    room = unique("sse-")
    stream = await opened(near, unique("alice"))
    try:
        join = {"type": "join", "room": room, "client_id": "j"}
        assert await send(far.port, stream, join) == 202
        assert (await until(stream, "joined", room=room))["ref"] == "j"
    finally:
        stream.close()


async def test_bad_posts_get_a_json_error_with_a_status(start_daphne):
    server = start_daphne()
    stream = await opened(server, unique("alice"))
    good = {"session": stream.session, "token": stream.token, "messages": []}
    try:
        cases = [
            ({**good, "token": "0" * 40}, {}, 403, "bad_token"),
            (good, {"Cookie": "sessionid=someone-else"}, 403, "bad_token"),
            (good, {"Origin": "http://evil.example"}, 403, "forbidden_origin"),
            (good, {"Host": "evil.example"}, 400, "bad_host"),
            (b"not json", {}, 400, "bad_request"),
            ({**good, "messages": [1]}, {}, 400, "bad_request"),
            (
                json.dumps({**good, "messages": ["x" * 70000]}).encode(),
                {},
                413,
                "too_large",
            ),
        ]
        for body, headers, status, error in cases:
            answer = await asyncio.to_thread(post, server.port, body, headers)
            assert answer[0] == status and answer[1]["error"] == error, (body, answer)
        assert await asyncio.to_thread(post, server.port, good) == (
            202,
            {"accepted": 0},
        )
    finally:
        stream.close()


async def test_a_stream_is_refused_like_the_handshake_it_stands_for(start_daphne):
    server = start_daphne(CHAT_ALLOW_ANONYMOUS="0")
    unknown = EventStream(server.port, "/sse/echo/")
    assert await unknown.open() == 404
    assert (await unknown.body())["error"] == "not_found"
    cross_site = EventStream(server.port, STREAM, [("Origin", "http://evil.example")])
    assert await cross_site.open() == 403
    assert (await cross_site.body())["error"] == "refused"
    # No name it may chat under: the consumer's error, then its close code.
    nameless = await opened(server, "anyone")
    try:
        assert (await nameless.next_message())["code"] == "invalid_name"
        with pytest.raises(StreamClosed) as closed:
            await nameless.next_message()
        assert closed.value.args[0]["code"] == 4001
    finally:
        nameless.close()


async def test_a_message_over_the_size_limit_closes_the_stream_with_1009(start_daphne):
    server = start_daphne()
    stream = await opened(server, unique("alice"))
    try:
        big = {"type": "message", "room": "x", "text": "y" * 20000}
        assert await send(server.port, stream, big) == 202
        with pytest.raises(StreamClosed) as closed:
            while True:
                await stream.next_message()
        assert closed.value.args[0]["code"] == 1009
    finally:
        stream.close()


async def test_a_stream_that_goes_away_leaves_the_room(start_daphne):
    server = start_daphne()
    room = unique("sse-")
    async with chat(server, unique("bob")) as bob:
        await bob.join(room)
        alice = unique("alice")
        stream = await opened(server, alice)
        await send(server.port, stream, {"type": "join", "room": room})
        await bob.next("presence", joined=[alice])
        stream.close()
        await bob.next("presence", left=[alice])


async def test_a_stream_that_stops_reading_is_dropped_and_leaves_the_room(
    start_daphne,
):
    """The bound a WebSocket has (WEBSOCKET_SEND_BUFFER_BYTES) holds for a
    stream: past it the stream is dropped, not buffered without end."""
    server = start_daphne(
        WEBSOCKET_SEND_BUFFER_BYTES=str(64 * 1024), CHAT_RATE_PER_SECOND="0"
    )
    room, alice, bob = unique("sse-"), unique("alice"), unique("bob")
    stream = await opened(server, alice)
    await send(server.port, stream, {"type": "join", "room": room})
    await until(stream, "joined", room=room)
    # Alice reads no more. Bob, who reads everything, writes until she is gone.
    gone = asyncio.Event()
    async with ChatClient(server.url_for(f"/ws/chat/?name={bob}"), user=bob) as writer:
        await writer.wait_for(OPEN)
        joined = await writer.join(room)
        joined.on("presence", lambda change: alice in change["left"] and gone.set())
        async with asyncio.timeout(SECONDS * 3):
            text = "z" * 4000
            while not gone.is_set():
                await asyncio.gather(*(joined.send(text) for _ in range(20)))
    stream.close()


async def test_streams_past_the_limit_are_refused_with_503(start_daphne):
    server = start_daphne(FALLBACK_MAX_STREAMS="1")
    first = await opened(server, unique("alice"))
    try:
        second = EventStream(server.port, f"{STREAM}?name={unique('bob')}")
        assert await second.open() == 503
        assert (await second.body())["error"] == "too_many_streams"
    finally:
        first.close()
