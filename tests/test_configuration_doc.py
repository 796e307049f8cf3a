"""docs/configuration.md documents every environment variable the service
reads, and nothing it does not read."""

import ast
import re

from tests.servers import REPOSITORY

READERS = {"text", "flag", "integer", "number", "words", "json_value"}
# Read by Python or Django themselves, not by our settings.
NOT_OURS = {"DJANGO_SETTINGS_MODULE"}


def variables_read():
    found = set()
    paths = [
        *(REPOSITORY / "project").glob("*.py"),
        *(REPOSITORY / "server").rglob("*.py"),
    ]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            function = node.func
            if not isinstance(function, ast.Attribute):
                continue
            owner = ast.unparse(function.value)
            if (owner == "env" and function.attr in READERS) or (
                owner == "os.environ" and function.attr in ("get", "setdefault")
            ):
                found.add(first.value)
    return found - NOT_OURS


def variables_documented():
    text = (REPOSITORY / "docs" / "configuration.md").read_text()
    section = text.split("## Limits", 1)[0]
    names = set()
    for row in re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", section, re.M):
        names.update(re.findall(r"`([A-Z_]+)`", row))
    return names


def test_every_variable_read_is_documented():
    assert sorted(variables_read() - variables_documented()) == []


def test_every_documented_variable_is_read():
    assert sorted(variables_documented() - variables_read()) == []


def test_the_reader_finds_variables_read_over_several_lines():
    assert {
        "WEBSOCKET_MAX_MESSAGE_SIZE",
        "PROMETHEUS_MULTIPROC_DIR",
    } <= variables_read()
