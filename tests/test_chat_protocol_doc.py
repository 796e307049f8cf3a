"""docs/chat-protocol.md and chat/protocol.py name the same message types,
error codes and close codes."""

import re

from chat import protocol
from tests.servers import REPOSITORY

DOC = (REPOSITORY / "docs" / "chat-protocol.md").read_text()


def first_column(heading):
    """The first cells of the table under ``## heading``, without backticks."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [row.split("|")[1].strip().strip("`") for row in rows[1:]]


def test_every_type_a_client_may_send_is_documented_and_no_other():
    assert sorted(first_column("What a client sends")) == sorted(protocol.CLIENT_TYPES)


def test_every_type_the_server_sends_is_documented_and_no_other():
    assert sorted(first_column("What the server sends")) == sorted(
        protocol.SERVER_TYPES
    )


def test_every_error_code_is_documented_and_no_other():
    codes = [error.code for error in protocol.ERRORS]
    assert sorted(first_column("Error codes")) == sorted(codes)


def test_every_close_code_is_documented_with_whether_to_reconnect():
    documented = {}
    section = DOC.split("## Close codes\n", 1)[1].split("\n## ", 1)[0]
    for row in re.findall(r"^\| (\d{4}) \| [^|]+ \| (yes|no)", section, re.M):
        documented[int(row[0])] = row[1] == "yes"
    assert documented == {close.code: close.retry for close in protocol.CLOSE_CODES}
