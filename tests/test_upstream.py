"""Every upstream name our patches and extensions rely on is checked, and a
release that moved one stops the server at start-up with one line."""

import types

import pytest

from server import extensions, transport
from server.transport.upstream import UnsupportedUpstream, check, check_module
from tests import servers
from tests.test_layout import imported_modules

UPSTREAM = ("daphne", "autobahn", "twisted", "channels_redis")
CHECKED = transport.CORRECTNESS + transport.SPEED + extensions.RELYING_ON_UPSTREAM


def test_every_reliance_holds_for_the_installed_releases():
    modules = check(CHECKED)
    assert all(module.RELIES_ON for module in modules)


def test_every_module_that_imports_daphne_autobahn_or_twisted_is_checked():
    unchecked = []
    for path in sorted((servers.REPOSITORY / "server").rglob("*.py")):
        name = ".".join(path.relative_to(servers.REPOSITORY).with_suffix("").parts)
        uses = {m.split(".")[0] for m in imported_modules(path)} & set(UPSTREAM)
        if uses and name not in CHECKED and "launcher" not in name:
            unchecked.append(f"{name} uses {sorted(uses)}")
    assert unchecked == []


def test_a_missing_name_is_one_line_naming_module_owner_and_name():
    module = types.ModuleType("server.transport.example")
    module.RELIES_ON = [(dict, ["keys", "no_such_method"])]
    with pytest.raises(UnsupportedUpstream) as raised:
        check_module(module)
    (line,) = str(raised.value).splitlines()
    assert line.startswith("server.transport.example: dict has no no_such_method;")


def test_a_changed_signature_or_copied_source_is_caught():
    class Owner:
        def serverClose(self, code, reason):  # noqa: N802 - named as upstream
            pass

    owner, serverClose = Owner, Owner.serverClose
    module = types.ModuleType("example")
    module.RELIES_ON = [(owner, ["serverClose(code, reason)"])]
    check_module(module)
    module.RELIES_ON = [(owner, ["serverClose(reason)"])]
    with pytest.raises(UnsupportedUpstream):
        check_module(module)
    module.RELIES_ON = [(serverClose, ["source sha256 " + "0" * 64])]
    with pytest.raises(UnsupportedUpstream):
        check_module(module)


def test_an_import_that_moved_is_one_line_too():
    with pytest.raises(UnsupportedUpstream) as raised:
        check(["server.transport.no_such_patch"])
    (line,) = str(raised.value).splitlines()
    assert "server.transport.no_such_patch" in line


@pytest.mark.server
@pytest.mark.parametrize(
    "breakage, named",
    [
        (
            "import autobahn.websocket.protocol as p\n"
            "del p.WebSocketProtocol.sendCloseFrame\n",
            "has no sendCloseFrame",
        ),
        (
            "import autobahn.websocket.protocol as p\ndel p.PreparedMessage\n",
            "cannot import name 'PreparedMessage'",
        ),
        (
            "import channels.consumer as c\ndel c.get_handler_name\n",
            "get_handler_name",
        ),
    ],
)
def test_daphne_refuses_to_start_on_a_broken_upstream_with_one_line(
    tmp_path, breakage, named
):
    (tmp_path / "sitecustomize.py").write_text(breakage)
    env = servers.service_environment(PYTHONPATH=str(tmp_path))
    (line,) = servers.refused_start(env)
    assert named in line and "not supported" in line
