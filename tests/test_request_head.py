"""The request head (line and headers) against a real daphne: a slow one is
cut off with 408, an oversized one answered 431, a malformed one 400."""

import socket
import time

import pytest

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

HANDSHAKE = (
    "GET /ws/echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
)


@pytest.fixture(scope="module")
def impatient(start_module_daphne):
    return start_module_daphne(HTTP_HEADERS_TIMEOUT="1")


def open_socket(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def response_head(sock):
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(1024)
    return received


def answer(sock):
    """Everything the server sends until it closes."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_head_sent_a_byte_at_a_time_is_cut_off_with_408(impatient):
    with open_socket(impatient) as sock:
        started = time.monotonic()
        sock.settimeout(0.2)
        reply = b""
        for byte in HANDSHAKE.encode():
            try:
                sock.send(bytes([byte]))
                reply = sock.recv(100)
            except TimeoutError:
                continue
            except OSError:
                break
            if reply or time.monotonic() - started > 5:
                break
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 1 + 1


def test_a_head_sent_at_once_still_opens_a_websocket(impatient):
    with open_socket(impatient) as sock:
        sock.sendall((HANDSHAKE + "\r\n").encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 101 ")


def test_an_open_websocket_outlives_the_head_deadline(impatient):
    with open_socket(impatient) as sock:
        sock.sendall((HANDSHAKE + "\r\n").encode())
        assert response_head(sock).startswith(b"HTTP/1.1 101 ")
        sock.settimeout(1.5)  # past the 1 s deadline: no 408, no close
        with pytest.raises(TimeoutError):
            sock.recv(100)


@pytest.mark.parametrize("path", ["/ws/echo/", "/"])
def test_an_oversized_head_is_answered_431(echo_server, path):
    with open_socket(echo_server) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"".join(b"X-Big-%d: %s\r\n" % (n, b"b" * 1000) for n in range(20))
            + b"\r\n"
        )
        assert answer(sock).startswith(b"HTTP/1.1 431 ")


def test_a_malformed_request_line_is_answered_400(echo_server):
    with open_socket(echo_server) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert response_head(sock).startswith(b"HTTP/1.1 400 ")


def test_one_header_line_over_the_limit_is_answered_431(echo_server):
    with open_socket(echo_server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"l" * 20000 + b"\r\n\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 431 ")


# RFC 6455 section 1.3's example key and the accept value it must give.
ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"


@pytest.mark.parametrize("pieces", [1, 3], ids=["in one read", "in three reads"])
def test_a_handshake_opens_alike_whether_its_head_comes_whole_or_in_pieces(
    echo_server, pieces
):
    head = (HANDSHAKE + "\r\n").encode()
    size = -(-len(head) // pieces)
    with open_socket(echo_server) as sock:
        for start in range(0, len(head), size):
            sock.sendall(head[start : start + size])
            time.sleep(0.05)  # each piece its own read
        reply = response_head(sock)
    assert reply.startswith(b"HTTP/1.1 101 ")
    assert ACCEPT in reply


@pytest.mark.parametrize(
    "header",
    [b"X-Bad: a\x0bb", b"Bad Name: value"],
    ids=["invalid value", "invalid name"],
)
def test_a_handshake_head_daphne_refuses_in_one_read_is_answered_400(
    echo_server, header
):
    head = HANDSHAKE.encode() + header + b"\r\n\r\n"
    with open_socket(echo_server) as sock:
        sock.sendall(head)
        assert response_head(sock).startswith(b"HTTP/1.1 400 ")
