"""Imports run one way: apps -> operations -> extensions -> transport (realtime/,
which serves the rest of the application, may use chat; no app uses it), and
tests/ and bench/ share harness/ rather than import each other. The client
libraries (clients/) import nothing of the service's."""

import ast

import pytest

from tests.servers import REPOSITORY

# Each package, and the packages of ours it may not import.
FORBIDDEN = {
    "server/transport": (
        "server.extensions",
        "server.operations",
        "echo",
        "chat",
        "realtime",
    ),
    "server/extensions": ("server.operations", "echo", "chat", "realtime", "project"),
    "server/operations": ("echo", "chat", "realtime"),
    "echo": ("chat", "realtime"),
    "chat": ("echo", "realtime"),
    "realtime": ("echo",),
    "tests": ("bench",),
    "bench": ("tests",),
    "harness": ("tests", "bench", "server", "echo", "chat"),
    # Client libraries other services import: nothing of the server's.
    "clients": ("server", "echo", "chat", "realtime", "project", "harness"),
}


def imported_modules(path):
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(REPOSITORY).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                yield f"{base}.{node.module}" if node.module else base
            else:
                yield node.module


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_module_imports_against_the_direction_of_the_layers(folder):
    wrong = []
    for path in sorted((REPOSITORY / folder).rglob("*.py")):
        for module in imported_modules(path):
            if any(
                module == banned or module.startswith(banned + ".")
                for banned in FORBIDDEN[folder]
            ):
                wrong.append(f"{path.relative_to(REPOSITORY)} imports {module}")
    assert wrong == []


def test_the_layer_check_sees_a_relative_import_for_what_it_is(tmp_path):
    module = REPOSITORY / "server" / "transport" / "speed" / "daphne_queue.py"
    assert "server.transport.single_reader_queue" in set(imported_modules(module))
