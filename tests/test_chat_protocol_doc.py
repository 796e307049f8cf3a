"""docs/chat-protocol.md and chat/protocol.py name the same message types,
fields, error codes and close codes; the client libraries, JavaScript and
Python, handle every type the server sends and stop on the same close codes."""

import re

from chat import protocol
from clients import chat as python_client
from tests.servers import REPOSITORY

DOC = (REPOSITORY / "docs" / "chat-protocol.md").read_text()
FIELD = re.compile(r"`([a-z_]+)`")


def table(heading):
    """The rows of the table under ``## heading``, as lists of cells."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows[1:]]


def documented_messages(heading):
    """type -> the fields its row names, in backticks."""
    return {
        row[0].strip("`"): tuple(sorted(FIELD.findall(row[1])))
        for row in table(heading)
    }


def declared(messages):
    return {name: tuple(sorted(fields)) for name, fields in messages.items()}


def test_every_type_a_client_may_send_is_documented_with_its_fields():
    assert documented_messages("What a client sends") == declared(
        protocol.CLIENT_MESSAGES
    )


def test_every_type_the_server_sends_is_documented_with_its_fields():
    assert documented_messages("What the server sends") == declared(
        protocol.SERVER_MESSAGES
    )


def test_every_error_code_is_documented_and_no_other():
    codes = [error.code for error in protocol.ERRORS]
    assert sorted(row[0].strip("`") for row in table("Error codes")) == sorted(codes)


def test_every_close_code_is_documented_with_whether_to_reconnect():
    documented = {}
    section = DOC.split("## Close codes\n", 1)[1].split("\n## ", 1)[0]
    for row in re.findall(r"^\| (\d{4}) \| [^|]+ \| (yes|no)", section, re.M):
        documented[int(row[0])] = row[1] == "yes"
    assert documented == {close.code: close.retry for close in protocol.CLOSE_CODES}


def test_every_request_field_and_reply_with_a_ref_is_documented():
    section = DOC.split("## Requests and answers\n", 1)[1].split("\n## ", 1)[0]
    named = set(FIELD.findall(section))
    assert set(protocol.REQUEST_FIELDS) | set(protocol.REPLIES) | {"ack"} <= named
    assert all("ref" in protocol.SERVER_MESSAGES[reply] for reply in protocol.REPLIES)


JS_CLIENT = (REPOSITORY / "clients" / "js" / "src" / "chat-client.js").read_text()


def test_the_python_client_has_a_receiver_for_every_server_type():
    assert set(python_client.RECEIVERS) == set(protocol.SERVER_TYPES)


def test_the_javascript_client_has_a_receiver_for_every_server_type():
    block = JS_CLIENT.split("const RECEIVERS = {", 1)[1].split("\n};", 1)[0]
    handled = set(re.findall(r"^  (\w+)(?:\(|:)", block, re.M))
    assert handled == set(protocol.SERVER_TYPES)


def test_both_clients_stop_on_the_close_codes_that_say_not_to_reconnect():
    final = {close.code for close in protocol.CLOSE_CODES if not close.retry}
    assert set(python_client.FINAL_CLOSES) == final
    block = JS_CLIENT.split("export const FINAL_CLOSES = new Map([", 1)[1]
    codes = re.findall(r"\[(\d{4}), ", block.split("]);", 1)[0])
    assert {int(code) for code in codes} == final
