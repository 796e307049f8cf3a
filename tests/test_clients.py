"""The command-line clients, run as users run them, against real daphne servers."""

import asyncio
import queue
import subprocess
import sys
import threading
import urllib.request
import uuid

import pytest

from tests import servers
from tests.chat_client import chat, registered_user

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

OUTPUT_SECONDS = 15


def run_echo_client(server, *args, input_text="", path="/ws/echo/"):
    return subprocess.run(
        [sys.executable, "-m", "echo.client", f"ws://127.0.0.1:{server.port}{path}"]
        + list(args),
        input=input_text,
        capture_output=True,
        text=True,
        cwd=servers.REPOSITORY,
        timeout=30,
    )


def test_echo_client_prints_each_echo_and_exits_0_on_a_normal_close(echo_server):
    result = run_echo_client(echo_server, input_text="hello\nwörld\n\n")
    assert result.stdout.splitlines() == [
        "connected",
        "< hello",
        "< wörld",
        "< ",
        "closed: 1000",
    ]
    assert result.returncode == 0


def test_echo_client_sends_binary_and_prints_it_as_hex(echo_server):
    result = run_echo_client(echo_server, "--binary", input_text="abc\n")
    assert "< binary, 3 bytes: 616263" in result.stdout.splitlines()
    assert result.returncode == 0


def test_echo_client_reports_the_subprotocol_chosen(echo_server):
    result = run_echo_client(
        echo_server, "--subprotocol", "unknown", "--subprotocol", "superchat"
    )
    assert result.stdout.splitlines()[0] == "connected, subprotocol superchat"


def test_echo_client_times_a_checked_loop(echo_server):
    result = run_echo_client(echo_server, "--count", "200", "--size", "100")
    summary = result.stdout.splitlines()[1]
    assert summary.startswith("200 round trips of 100 bytes in ")
    assert "rt/s, p50 " in summary and " ms, p99 " in summary
    assert result.returncode == 0


def test_echo_client_exits_1_when_the_server_closes_abnormally(echo_server):
    too_big = "x" * (1024 * 1024 + 1) + "\n"
    result = run_echo_client(echo_server, input_text=too_big)
    assert result.stdout.splitlines()[-1].startswith("closed: 1009 ")
    assert result.returncode == 1


def test_echo_client_exits_2_when_the_handshake_is_refused(echo_server):
    result = run_echo_client(echo_server, "--origin", "http://evil.example")
    assert result.stdout.strip() == "refused: HTTP 403"
    assert result.returncode == 2


def test_echo_client_sends_extra_headers(echo_server):
    result = run_echo_client(
        echo_server, "--header", f"Origin: http://127.0.0.1:{echo_server.port}"
    )
    assert result.stdout.splitlines() == ["connected", "closed: 1000"]


class ChatProcess:
    """``python -m chat.client`` with its input a pipe and its output read line by
    line on a thread, so the test can wait for the line it needs."""

    def __init__(self, port, room, name=None, session=None):
        who = ["--name", name] if name else ["--session", session]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chat.client", f"ws://127.0.0.1:{port}/ws/chat/"]
            + ["--room", room, *who],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=servers.REPOSITORY,
        )
        self.lines = []
        self.arrived = queue.Queue()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.process.stdout:
            self.arrived.put(line.rstrip("\n"))

    def type(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, fragment):
        """The first line (not yet waited past) that contains ``fragment``."""
        for line in self.lines:
            if fragment in line:
                return line
        while True:
            line = self.arrived.get(timeout=OUTPUT_SECONDS)
            self.lines.append(line)
            if fragment in line:
                return line

    def finish(self):
        """End the input; the exit status, once all output is read."""
        self.process.stdin.close()
        status = self.process.wait(timeout=OUTPUT_SECONDS)
        self.reader.join(OUTPUT_SECONDS)
        while not self.arrived.empty():
            self.lines.append(self.arrived.get_nowait())
        return status

    def messages(self):
        return [line.split("> ", 1)[1] for line in self.lines if "> " in line]


@pytest.fixture
def room():
    return f"cli-{uuid.uuid4().hex[:8]}"


async def test_chat_client_shows_history_messages_and_presence(start_daphne, room):
    server = start_daphne()
    async with chat(server, name="bob") as bob:
        await bob.join(room)
        await bob.say(room, "before alice came")
        await bob.next("message", text="before alice came")
        alice = ChatProcess(server.port, room, "alice")
        alice.wait_for(f"* joined {room}: alice, bob here")
        assert alice.wait_for("before alice came").endswith("<bob> before alice came")
        await bob.next("presence", joined=["alice"])
        alice.type("hi bob")
        received = await bob.next("message", text="hi bob")
        assert received["author"] == "alice"
        await bob.send("typing", room=room)
        alice.wait_for("* bob is typing")
        assert alice.finish() == 0
        await bob.next("presence", left=["alice"])
    assert alice.messages() == ["before alice came", "hi bob"]


async def test_chat_client_resumes_across_a_server_restart_without_gap_or_double(
    start_daphne, room
):
    """Alice's server stops; while she is away Bob, on another worker, says two
    things and she types one. Back on a new server at the same address, she
    shows Bob's two (through ``since``) and hers, each once, in order."""
    alices_server, bobs_server = start_daphne(), start_daphne()
    alice = ChatProcess(alices_server.port, room, "alice")
    alice.wait_for(f"* joined {room}")
    alice.type("one")
    alice.wait_for("<alice> one")

    alices_server.stop()
    alice.wait_for("reconnecting")
    async with chat(bobs_server, name="bob") as bob:
        await bob.join(room)
        for text in ("two", "three"):
            await bob.say(room, text)
            await bob.next("message", text=text)
        alice.type("four")
        start_daphne(port=alices_server.port)
        alice.wait_for("<alice> four")
        assert alice.finish() == 0
        await bob.send("history", room=room, after=0)
        stored = await bob.next("history")
    assert alice.messages() == ["one", "two", "three", "four"]
    assert [message["text"] for message in stored["messages"]] == [
        "one",
        "two",
        "three",
        "four",
    ]


async def test_chat_client_stops_when_its_user_is_signed_out(
    start_daphne, room, server_database_url
):
    server = start_daphne(API_KEYS="k")
    name = f"cli{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    carol = ChatProcess(server.port, room, session=session)
    carol.wait_for(f"* joined {room}")
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/users/{name}/disconnect",
        data=b"{}",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    carol.wait_for("* signed out")
    assert carol.process.wait(timeout=OUTPUT_SECONDS) == 1
    assert not [line for line in carol.lines if "reconnecting" in line]


async def test_chat_client_edits_reacts_deletes_and_lists_rooms_by_command(
    start_daphne, room
):
    server = start_daphne()
    async with chat(server, name="bob") as bob:
        await bob.join(room)
        alice = ChatProcess(server.port, room, "alice")
        alice.wait_for(f"* joined {room}")
        alice.type("helo bob")
        line = alice.wait_for("<alice> helo bob")
        number = line.split("#", 1)[1].split(" ", 1)[0]
        sent = await bob.next("message", text="helo bob")
        assert str(sent["id"]) == number

        alice.type(f"/edit {number} hello bob")
        assert (await bob.next("edit"))["text"] == "hello bob"
        alice.wait_for(f"* #{number} edited by alice: hello bob")
        await bob.send("react", room=room, id=sent["id"], emoji="👋")
        alice.wait_for(f"* bob reacted 👋 to #{number} (👋 bob)")
        alice.type(f"/delete {number}")
        assert (await bob.next("delete"))["target"] == sent["id"]
        alice.wait_for(f"* #{number} deleted by alice")
        alice.type("//slash is text")
        assert (await bob.next("message"))["text"] == "/slash is text"
        alice.type(f"/reply {sent['id']} shall we thread this")
        reply = await bob.next("message", text="shall we thread this")
        assert reply["reply_to"] == sent["id"]
        alice.wait_for(f"(in thread #{number}) <alice> shall we thread this")
        alice.type(f"/thread {number}")
        alice.wait_for(f"* thread #{number}: #{number} <alice> (deleted)")
        alice.wait_for(f"*   #{reply['id']} (in thread #{number}) <alice> shall we")
        # In this room: the database outlives the run, and other runs' rooms.
        alice.type(f"/search thread this in:{room}")
        alice.wait_for(f"* search 'thread this in:{room}': 1 found")
        alice.wait_for(f"*   {room} #{reply['id']} <alice> shall we thread this")
        alice.type("/rooms")
        alice.wait_for(f"* room {room}: last #")
        alice.type("/nonsense")
        alice.wait_for("/edit ID TEXT")
        alice.type("/read")
        alice.wait_for("! login_required")
        assert alice.finish() == 0


async def test_chat_client_uploads_a_file_with_a_message(
    start_daphne, room, server_database_url, tmp_path
):
    server = start_daphne(MEDIA_ROOT=str(tmp_path / "media"))
    name = f"cli{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    notes = tmp_path / "notes.txt"
    notes.write_text("ship on Friday\n")
    async with chat(server, name="bob") as bob:
        await bob.join(room)
        dave = ChatProcess(server.port, room, session=session)
        dave.wait_for(f"* joined {room}")
        dave.type(f"/upload {notes} the release notes")
        sent = await bob.next("message", text="the release notes")
        [file] = sent["files"]
        assert (file["name"], file["type"], file["size"]) == (
            "notes.txt",
            "text/plain",
            15,
        )
        shown = dave.wait_for(
            f"[file notes.txt, text/plain, 15 bytes: http://127.0.0.1:{server.port}/chat/files/"
        )
        assert shown.endswith(f"{file['url']}]")
        dave.type(f"/upload {tmp_path / 'missing.png'}")
        dave.wait_for("! cannot read")
        dave.type("/notify off")
        dave.wait_for("* email when away: off")
        dave.type("/notify on")
        dave.wait_for("* email when away: on")
        assert dave.finish() == 0
