"""Log lines a client cannot forge, against a real daphne's log."""

import uuid

import pytest

from server.operations.logs import printable
from tests.client import connect, receive, wait_until

pytestmark = [pytest.mark.server, pytest.mark.once]


def lines_starting(log, text):
    return [line for line in log.splitlines() if line.startswith(text)]


async def test_a_message_with_a_newline_cannot_forge_a_log_record(echo_server):
    forged = f"2026-11-22 09:00:00,000 ERROR forged-{uuid.uuid4().hex}"
    async with connect(echo_server) as websocket:
        await websocket.send(f"hi\n{forged}\x1b[2J")
        await receive(websocket)
    await wait_until(lambda: forged in echo_server.log)
    assert lines_starting(echo_server.log, forged) == []
    assert f"sent: hi\\n{forged}\\x1b[2J" in echo_server.log


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("plain text, é and 😀", "plain text, é and 😀"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x00\x1b\x7f\x85", "\\x00\\x1b\\x7f\\x85"),
        ("line\u2028separator", "line\\u2028separator"),
    ],
)
def test_control_characters_are_escaped_and_nothing_else(text, written):
    assert printable(text) == written


async def test_a_close_is_logged_in_one_line_with_its_code(echo_server):
    async with connect(echo_server) as websocket:
        port = websocket.local_address[1]
        await websocket.close(code=4321)
    line = f"127.0.0.1:{port} closed /ws/echo/ with 4321"
    await wait_until(lambda: line in echo_server.log)
