"""Reaching people who are away, against real processes: two daphne workers on
Redis, the notifier (``manage.py chat_notify``) as a process of its own, and a
real SMTP server (aiosmtpd) counting every email. A mention or a direct
message to someone with no connection is emailed once, after the delay,
gathered with what else arrived, unless they read it first or turned emails
off; the signal is heard either way; a notifier killed mid-send sends
nothing twice when it starts again."""

import asyncio
import email
import json
import signal
import subprocess
import sys
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller

from tests import servers
from tests.chat_client import chat, manage_shell, registered_users, unique
from tests.client import wait_until

pytestmark = pytest.mark.server

DELAY = 3


class Mailbox:
    """What the SMTP server was given, and a way to hold its answer to one
    recipient's email: taken (as a real server queues it once its data has
    come), but the notifier waits for the reply that says so."""

    def __init__(self):
        self.emails = []
        self.held = set()
        self.holding = threading.Event()  # an email is being held
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.emails.append(parsed)
        if self.held & set(envelope.rcpt_tos):
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(
                None, self.release.wait, 30
            )
        return "250 OK"

    def to(self, address):
        return [m for m in self.emails if m["To"] == address]


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    yield box, controller.port
    box.release.set()
    controller.stop()


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    return [
        start_module_daphne(REDIS_URL=redis_url, CHAT_NOTIFY_DELAY=str(DELAY))
        for _ in range(2)
    ]


class Notifier:
    """``manage.py chat_notify`` as compose runs it, its log in a file."""

    def __init__(self, env, log_path):
        self.env, self.log_path = env, log_path
        self.process = None

    def start(self):
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        command = [sys.executable, "manage.py", "chat_notify"]
        self.process = subprocess.Popen(
            command,
            cwd=servers.REPOSITORY,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for_line("notifier started")

    def lines(self):
        return self.log_path.read_text().splitlines()

    def wait_for_line(self, fragment, seconds=20):
        """Wait for the notifier to log a line with ``fragment`` (the file is
        another process's, so it is looked at until it has it)."""
        deadline = time.monotonic() + seconds
        while not any(fragment in line for line in self.lines()):
            assert self.process.poll() is None, "the notifier exited"
            assert time.monotonic() < deadline, f"no {fragment!r} logged"
            time.sleep(0.05)

    def stop(self, how=signal.SIGTERM):
        self.process.send_signal(how)
        self.process.wait(timeout=20)
        self.log.close()


@pytest.fixture
def notifier(mailbox, redis_url, server_database_url, tmp_path):
    signals = tmp_path / "signals.jsonl"
    env = servers.service_environment(
        DATABASE_URL=server_database_url,
        REDIS_URL=redis_url,
        CHAT_NOTIFY_DELAY=str(DELAY),
        CHAT_NOTIFY_POLL="0.1",
        CHAT_NOTIFY_LEASE="3",
        EMAIL_TIMEOUT="2",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(mailbox[1]),
        SITE_URL="http://chat.example.test",
        DJANGO_SETTINGS_MODULE="tests.signal_settings",
        SIGNAL_LOG=str(signals),
    )
    process = Notifier(env, tmp_path / "notifier.log")
    process.signals = signals
    process.start()
    yield process
    if process.process.poll() is None:
        process.stop()


ROLES = ("ann", "ben", "cat", "dan")


@pytest.fixture(scope="module")
def everyone(server_database_url):
    """Registered users with an email address each, four for every test of
    the module (one process makes them all): test -> role -> (name, session)."""
    tests = [name for name in globals() if name.startswith("test_")]
    names = {(test, role): unique(role) for test in tests for role in ROLES}
    made = registered_users(server_database_url, names.values())
    manage_shell(
        server_database_url,
        "from django.contrib.auth import get_user_model\n"
        f"for name in {list(names.values())!r}:\n"
        "    get_user_model().objects.filter(username=name)"
        ".update(email=name + '@example.test')\n",
    )
    return {
        test: {role: (names[test, role], made[names[test, role]]) for role in ROLES}
        for test in tests
    }


@pytest.fixture
def people(everyone, request):
    return everyone[request.node.originalname]


def heard_of(notifier, rooms):
    """The notifier's missed_messages signals about these rooms (the database
    may hold other tests' notifications, which it sends too)."""
    if not notifier.signals.exists():
        return []
    return [
        record
        for record in map(json.loads, notifier.signals.read_text().splitlines())
        if record["signal"] == "missed_messages"
        and {m["room"] for m in record["messages"]} & rooms
    ]


async def heard(notifier, rooms, count):
    """The signals about ``rooms``, once ``count`` have come (each is sent just
    after its email)."""
    await wait_until(lambda: len(heard_of(notifier, rooms)) >= count, seconds=20)
    return heard_of(notifier, rooms)


def address(people, role):
    return f"{people[role][0]}@example.test"


async def arrived(box, who, count=1):
    await wait_until(lambda: len(box.to(who)) >= count, seconds=20)
    return box.to(who)


def body(message, kind="plain"):
    return message.get_body(preferencelist=(kind,)).get_content()


async def test_a_mention_and_direct_messages_to_someone_away_come_in_one_email(
    workers, notifier, mailbox, people
):
    box, _ = mailbox
    (ann, ann_session), (ben, _) = people["ann"], people["ben"]
    room = unique("away-")
    async with chat(workers[0], session=ann_session) as client:
        await client.join(room)
        await client.say(room, f"@{ben} can you check the release notes?")
        first = await client.next("message", room=room)
        await client.send("direct", user=ben)
        direct = (await client.next("joined"))["room"]
        await client.say(direct, "and the <b>deck</b>, when you are back")
        second = await client.next("message", room=direct)
        await client.say(room, "no mention here")
    [sent] = await arrived(box, address(people, "ben"))
    assert sent["From"] == "Chat <chat@localhost>"
    assert sent["Subject"] == f"2 messages for you from {ann}"
    text = body(sent)
    assert "can you check the release notes?" in text
    assert f"{ann} wrote to you" in text and "and the <b>deck</b>" in text
    assert f"http://chat.example.test/chat/#room={room}&id={first['id']}" in text
    assert f"#room={direct}&id={second['id']}" in text
    html = body(sent, "html")
    assert "&lt;b&gt;deck&lt;/b&gt;" in html and "<b>deck</b>" not in html
    assert box.to(address(people, "ann")) == [], "the sender is not notified"

    [signalled] = await heard(notifier, {room, direct}, 1)
    assert signalled["email"] is True and len(signalled["messages"]) == 2
    assert {m["reason"] for m in signalled["messages"]} == {"mention", "direct"}


async def test_no_email_for_those_connected_who_read_first_or_turned_it_off(
    workers, notifier, mailbox, people
):
    box, _ = mailbox
    names = {role: people[role][0] for role in people}
    room = unique("quiet-")
    async with chat(workers[1], session=people["cat"][1]) as cat:
        await cat.send("notifications", email=False)
        assert (await cat.next("notifications"))["email"] is False
    async with chat(workers[0], session=people["ann"][1]) as ann:
        await ann.join(room)
        await ann.say(room, f"@{names['ben']} @{names['cat']} standup moved")
        await ann.next("message", room=room)
        async with chat(workers[1], session=people["ben"][1]) as ben:
            joined = await ben.join(room)
            await ben.send("read", room=room, id=joined["last_id"])
            await ben.next("read", room=room)
            # ann is connected when ben mentions her.
            await ben.say(room, f"@{names['ann']} thanks")
            await ben.next("message", room=room)
        # Sent last: dan's email comes after the notifier has passed the others.
        await ann.say(room, f"@{names['dan']} you too")
        await ann.next("message", room=room)
    await arrived(box, address(people, "dan"))
    for role in ("ann", "ben", "cat"):
        assert box.to(address(people, role)) == [], role
    signalled = await heard(notifier, {room}, 2)
    by_email = {entry["email"] for entry in signalled}
    assert len(signalled) == 2 and by_email == {True, False}, "cat's has no email"


async def test_a_notifier_killed_while_sending_sends_nothing_twice(
    workers, notifier, mailbox, people
):
    box, _ = mailbox
    names = {role: people[role][0] for role in people}
    box.held.add(address(people, "ben"))
    room = unique("crash-")
    async with chat(workers[0], session=people["ann"][1]) as ann:
        await ann.join(room)
        await ann.say(room, f"@{names['ben']} first")
        await ann.next("message", room=room)
        assert await asyncio.to_thread(box.holding.wait, 20), "no email to hold"
        # The notifier is inside ben's SMTP exchange: killed there, it cannot
        # know whether the email went.
        notifier.stop(signal.SIGKILL)
        box.release.set()
        await ann.say(room, f"@{names['cat']} second")
        await ann.next("message", room=room)
    await asyncio.to_thread(notifier.start)
    await arrived(box, address(people, "cat"))
    await asyncio.to_thread(notifier.wait_for_line, "1 notifications unconfirmed")
    await ann_mentions_dan_and_waits(workers, people, box, room)
    assert len(box.to(address(people, "ben"))) == 1, "held, taken, never resent"
    assert len(box.to(address(people, "cat"))) == 1


async def ann_mentions_dan_and_waits(workers, people, box, room):
    """A later email: by the time it arrives, the notifier has passed every
    earlier one (and would have sent any again)."""
    async with chat(workers[1], session=people["ann"][1]) as ann:
        await ann.join(room)
        await ann.say(room, f"@{people['dan'][0]} last")
        await ann.next("message", room=room)
    await arrived(box, address(people, "dan"))


async def test_an_smtp_server_that_is_down_gets_the_email_once_it_is_back(
    workers, redis_url, server_database_url, tmp_path, people
):
    port = servers.free_port()
    env = servers.service_environment(
        DATABASE_URL=server_database_url,
        REDIS_URL=redis_url,
        CHAT_NOTIFY_POLL="0.1",
        CHAT_NOTIFY_RETRY="0.5",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
    )
    process = Notifier(env, tmp_path / "notifier.log")
    await asyncio.to_thread(process.start)
    try:
        room = unique("retry-")
        async with chat(workers[0], session=people["ann"][1]) as ann:
            await ann.join(room)
            await ann.say(room, f"@{people['ben'][0]} are you there?")
            await ann.next("message", room=room)
        await asyncio.to_thread(process.wait_for_line, "trying again later")
        box = Mailbox()
        controller = Controller(box, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            [sent] = await arrived(box, address(people, "ben"))
            assert "are you there?" in body(sent)
        finally:
            controller.stop()
    finally:
        process.stop()
