"""permessage-deflate (RFC 7692) against a real daphne with
WEBSOCKET_PERMESSAGE_DEFLATE on: negotiation, compressed frames, the limits."""

import zlib

import pytest
import redis

from tests.client import connect, receive
from tests.rawsocket import (
    BINARY,
    CONTINUATION,
    TEXT,
    RawWebSocket,
    deflate,
    inflate,
)

pytestmark = [pytest.mark.server, pytest.mark.once]

OFFER = "permessage-deflate; client_max_window_bits"
MAX_MESSAGE_SIZE = 1024 * 1024


@pytest.fixture(scope="module")
def deflate_server(start_module_daphne):
    return start_module_daphne(WEBSOCKET_PERMESSAGE_DEFLATE="1")


@pytest.fixture
def raw(deflate_server):
    socket = RawWebSocket(deflate_server.port, extensions=OFFER)
    yield socket
    socket.close()


def test_the_offer_is_accepted_with_bounded_memory_for_both_directions(raw):
    assert raw.headers["sec-websocket-extensions"] == (
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=12"
    )


def test_the_offer_is_declined_when_the_setting_is_off(echo_server):
    socket = RawWebSocket(echo_server.port, extensions=OFFER)
    assert "sec-websocket-extensions" not in socket.headers
    socket.close()


def test_a_compressed_text_message_is_echoed_compressed(raw):
    text = "compress me " * 100
    raw.send_frame(TEXT, deflate(text.encode()), rsv1=True)
    opcode, payload = raw.read_message()
    assert raw.last_rsv1
    assert (opcode, inflate(payload).decode()) == (TEXT, text)


def test_a_compressed_message_in_fragments_is_echoed_whole(raw):
    body = deflate(bytes(range(256)) * 64)
    third = len(body) // 3
    raw.send_frame(BINARY, body[:third], fin=False, rsv1=True)
    raw.send_frame(CONTINUATION, body[third : 2 * third], fin=False)
    raw.send_frame(CONTINUATION, body[2 * third :])
    opcode, payload = raw.read_message()
    assert (opcode, inflate(payload)) == (BINARY, bytes(range(256)) * 64)


def test_a_plain_message_is_accepted_and_every_reply_is_compressed(raw):
    for frame, rsv1 in ((b"plain", False), (deflate(b"squeezed"), True)):
        raw.send_frame(TEXT, frame, rsv1=rsv1)
        opcode, payload = raw.read_message()
        assert raw.last_rsv1
        assert (opcode, inflate(payload)) == (
            TEXT,
            b"plain" if not rsv1 else b"squeezed",
        )


def test_data_that_does_not_inflate_closes_with_1007(raw):
    raw.send_frame(TEXT, b"\xff\xff\xff\xff not deflate", rsv1=True)
    assert raw.read_close()[0] == 1007


def test_a_compressed_frame_without_the_extension_closes_with_1002(echo_server):
    socket = RawWebSocket(echo_server.port)
    socket.send_frame(TEXT, deflate(b"hello"), rsv1=True)
    assert socket.read_close()[0] == 1002
    socket.close()


def test_a_decompression_bomb_closes_with_1009_before_it_is_inflated(
    raw, deflate_server
):
    """200 KB that inflates to 200 MB: the worker stops at the 1 MiB limit."""
    compressor = zlib.compressobj(wbits=-15)
    chunk = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(chunk) for _ in range(200))
    bomb = (bomb + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert len(bomb) < 256 * 1024
    before = deflate_server.memory()
    raw.send_frame(BINARY, bomb, rsv1=True)
    code, reason = raw.read_close()
    assert code == 1009 and "after decompression" in reason
    assert deflate_server.memory() - before < 16 * 1024 * 1024
    with RawWebSocket(deflate_server.port, extensions=OFFER) as other:
        other.send_frame(TEXT, deflate(b"still serving"), rsv1=True)
        assert inflate(other.read_message()[1]) == b"still serving"


def test_a_message_that_inflates_to_exactly_the_limit_is_echoed(raw):
    raw.send_frame(BINARY, deflate(b"z" * MAX_MESSAGE_SIZE), rsv1=True)
    opcode, payload = raw.read_message()
    assert (opcode, len(inflate(payload))) == (BINARY, MAX_MESSAGE_SIZE)


async def test_a_client_library_echoes_through_compression(deflate_server):
    async with connect(deflate_server, compression="deflate") as websocket:
        assert (
            "permessage-deflate"
            in websocket.response.headers["Sec-WebSocket-Extensions"]
        )
        for message in ["hé" * 5000, b"\x00" * 70000, "", b""]:
            await websocket.send(message)
            assert await receive(websocket) == message


async def test_group_echo_reaches_compressed_and_plain_members_alike(
    start_daphne, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    workers = [
        start_daphne(REDIS_URL=redis_url, WEBSOCKET_PERMESSAGE_DEFLATE="1")
        for _ in range(2)
    ]
    path = "/ws/echo/squeezed/"
    async with (
        connect(workers[0], path, compression="deflate") as compressed,
        connect(workers[1], path, compression="deflate") as elsewhere,
        connect(workers[0], path, compression=None) as plain,
    ):
        messages = [f"group message {number} " * 20 for number in range(50)]
        for message in messages:
            await compressed.send(message)
        for member in (compressed, elsewhere, plain):
            assert [await receive(member) for _ in messages] == messages
