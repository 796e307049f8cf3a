"""RFC 6455 framing and closing, checked frame by frame against the echo on
a real daphne, and on granian: the same answers on both (on granian the
1009s come from the consumer, which checks each whole message itself)."""

import pytest

from tests import servers
from tests.rawsocket import BINARY, CONTINUATION, PING, PONG, TEXT, RawWebSocket

pytestmark = [pytest.mark.server, pytest.mark.once]

MAX_MESSAGE_SIZE = 1024 * 1024


@pytest.fixture(scope="module", params=["daphne", "granian"])
def echo_on(request, logs_dir, server_database_url):
    if request.param == "daphne":
        yield request.getfixturevalue("echo_server")
        return
    env = servers.service_environment(DATABASE_URL=server_database_url)
    server = servers.start_other_server(request.param, logs_dir, env)
    yield server
    server.stop()


# How each server fails a text message that is not UTF-8: daphne with 1007;
# granian's WebSocket layer with a close frame that carries no code.
INVALID_UTF8_CLOSE = {"daphne": 1007, "granian": None}


@pytest.fixture
def raw(echo_on):
    socket = RawWebSocket(echo_on.port)
    yield socket
    socket.close()


@pytest.fixture
def raw_on_daphne(echo_server):
    socket = RawWebSocket(echo_server.port)
    yield socket
    socket.close()


def test_message_over_the_maximum_is_answered_with_close_1009(raw):
    raw.send_frame(BINARY, b"x" * (MAX_MESSAGE_SIZE + 1))
    code, reason = raw.read_close()
    assert code == 1009
    assert "exceeds" in reason


def test_message_of_exactly_the_maximum_is_echoed(raw):
    raw.send_frame(BINARY, b"m" * MAX_MESSAGE_SIZE)
    assert raw.read_message() == (BINARY, b"m" * MAX_MESSAGE_SIZE)


def test_fragmented_message_over_the_maximum_is_answered_with_close_1009(
    raw_on_daphne,
):
    """Before its last fragment: only daphne's transport bounds a message as
    its frames arrive. granian holds an unfinished message up to its own
    64 MiB (docs/transport.md)."""
    raw = raw_on_daphne
    chunk = b"f" * (64 * 1024)
    raw.send_frame(BINARY, chunk, fin=False)
    for _ in range(MAX_MESSAGE_SIZE // len(chunk)):
        raw.send_frame(CONTINUATION, chunk, fin=False)
    assert raw.read_close()[0] == 1009


def test_invalid_utf8_in_a_text_message_fails_the_connection(raw, request):
    raw.send_frame(TEXT, b"valid start \xff\xfe")
    server = request.node.callspec.params["echo_on"]
    assert raw.read_close()[0] == INVALID_UTF8_CLOSE[server]


def test_message_in_thousands_of_fragments_is_reassembled_and_echoed(raw):
    text = "fragmented ✓ " * 400
    pieces = [piece.encode() for piece in text]
    assert len(pieces) > 4000
    raw.send_frame(TEXT, pieces[0], fin=False)
    for piece in pieces[1:-1]:
        raw.send_frame(CONTINUATION, piece, fin=False)
    raw.send_frame(CONTINUATION, pieces[-1], fin=True)
    assert raw.read_message() == (TEXT, text.encode())


def test_ping_between_fragments_gets_its_pong_and_the_message_still_arrives(raw):
    raw.send_frame(TEXT, b"first half, ", fin=False)
    raw.send_frame(PING, b"are you there")
    assert raw.read_frame() == (True, PONG, b"are you there")
    raw.send_frame(CONTINUATION, b"second half", fin=True)
    assert raw.read_message() == (TEXT, b"first half, second half")


@pytest.mark.parametrize("code", [1000, 1001, 4000])
def test_client_close_is_answered_with_a_close_frame_carrying_its_code(raw, code):
    raw.send_close(code, "bye")
    assert raw.read_close()[0] == code


def test_connection_keeps_working_after_an_empty_binary_message(raw):
    raw.send_frame(BINARY, b"")
    raw.send_frame(TEXT, b"after")
    assert raw.read_message() == (BINARY, b"")
    assert raw.read_message() == (TEXT, b"after")


def test_small_messages_queued_behind_a_large_one_arrive_after_it(raw):
    # The large echo fills the socket's send buffer, so part of it waits in the
    # server's queue; what is sent next must wait behind it, not jump ahead.
    raw.send_frame(BINARY, b"L" * MAX_MESSAGE_SIZE)
    for number in range(10):
        raw.send_frame(TEXT, b"small %d" % number)
    assert raw.read_message() == (BINARY, b"L" * MAX_MESSAGE_SIZE)
    for number in range(10):
        assert raw.read_message() == (TEXT, b"small %d" % number)
