"""Timeouts around an application that answers nothing, against a real
daphne: its handshake is dropped after the connect timeout (autobahn's
opening-handshake timeout, which daphne sets to it), and the application,
which ignores the disconnect, is cancelled after the application close timeout
(server/transport/daphne_reaping.py, where daphne's scan of every connection
did it)."""

import socket
import time

import pytest

pytestmark = [pytest.mark.server, pytest.mark.once]

HANDSHAKE = (
    b"GET /ws/%s/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture(scope="module")
def unresponsive(start_module_daphne, tmp_path_factory):
    log = tmp_path_factory.mktemp("unresponsive") / "log"
    server = start_module_daphne(
        application="tests.apps.unresponsive:application",
        extra_args=[
            "--websocket_connect_timeout",
            "1",
            "--application-close-timeout",
            "1",
        ],
        UNRESPONSIVE_LOG=str(log),
    )
    server.cancellations = log
    return server


def unanswered_handshake(server, path):
    """Send a handshake to ``path``; what came back before the server hung up."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HANDSHAKE % path)
        received = b""
        try:
            while chunk := sock.recv(100):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def test_a_handshake_the_application_never_answers_is_dropped(unresponsive):
    started = time.monotonic()
    assert not unanswered_handshake(unresponsive, b"wait").startswith(b"HTTP/1.1 101")
    # autobahn's timers fire on whole seconds: early by up to one.
    assert time.monotonic() - started < 1 + 2


def test_an_application_that_ignores_the_disconnect_is_cancelled(unresponsive):
    unanswered_handshake(unresponsive, b"record")
    deadline = time.monotonic() + 5
    while not (
        unresponsive.cancellations.exists() and unresponsive.cancellations.read_text()
    ):
        assert time.monotonic() < deadline, "the application was never cancelled"
        time.sleep(0.05)
    assert unresponsive.cancellations.read_text() == "cancelled\n"
