"""Chat through failures of real processes: the database going away under a
worker, and a worker killed while its clients are mid-conversation."""

import asyncio
import contextlib
import os
import signal
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import websockets

from tests import servers
from tests.chat_client import chat, registered_users, unique

pytestmark = pytest.mark.server


class CuttableProxy:
    """A TCP proxy on loopback whose connections the test can cut, refusing
    new ones until it is restored: a database that went away and came back."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.cut_off = False
        self.pipes = set()

    async def start(self):
        self.server = await asyncio.start_server(self.relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def relay(self, reader, writer):
        if self.cut_off:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        pipes = [
            asyncio.create_task(self.pipe(reader, up_writer)),
            asyncio.create_task(self.pipe(up_reader, writer)),
        ]
        self.pipes.update(pipes)

    async def pipe(self, reader, writer):
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def cut(self):
        self.cut_off = True
        for pipe in self.pipes:
            pipe.cancel()
        self.pipes.clear()

    def restore(self):
        self.cut_off = False

    async def stop(self):
        self.cut()
        self.server.close()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs a database server to cut off: CI's PostgreSQL pass",
)
async def test_a_message_the_database_cannot_store_is_refused_then_taken(
    start_daphne, server_database_url
):
    address = urlsplit(server_database_url)
    proxy = CuttableProxy(address.port or 5432)
    port = await proxy.start()
    proxied = urlunsplit(
        address._replace(netloc=f"{address.username}@127.0.0.1:{port}")
    )
    worker = await asyncio.to_thread(start_daphne, DATABASE_URL=proxied)
    room = f"outage-{uuid.uuid4().hex[:8]}"
    try:
        async with chat(worker, unique("alice")) as alice:
            await alice.join(room)
            await alice.say(room, "before", client_id="before")
            await alice.next("message", room=room)
            proxy.cut()
            await alice.say(room, "during", client_id="during")
            error = await alice.next("error")
            assert (error["code"], error["ref"]) == ("unavailable", "during")
            proxy.restore()
            await alice.say(room, "during", client_id="during")
            stored = await alice.next("message", room=room)
            assert (stored["text"], stored["id"]) == ("during", 2)
            await alice.send("history", room=room, after=0)
            history = await alice.next("history")
        assert [m["text"] for m in history["messages"]] == ["before", "during"]
    finally:
        await proxy.stop()


async def test_clients_of_a_killed_worker_resume_on_the_other_exactly_once(
    start_daphne, redis_url
):
    """Two workers, a reader on each and a sender on the second; the first is
    killed mid-stream. Its reader comes back on the second with ``since``."""
    redis.Redis.from_url(redis_url).flushdb()
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    doomed, survivor = (start_daphne(**settings) for _ in range(2))
    room = f"crash-{uuid.uuid4().hex[:8]}"
    total = 200
    async with (
        chat(survivor, unique("sender")) as sender,
        chat(survivor, unique("stayer")) as stayer,
    ):
        await sender.join(room)
        await stayer.join(room)
        seen = []
        async with chat(doomed, unique("mover")) as mover:
            await mover.join(room)
            for number in range(total):
                await sender.say(room, f"m{number}", client_id=f"c{number}")
                if number == total // 3:
                    doomed.process.send_signal(signal.SIGKILL)
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:  # until the kill reaches this connection
                    seen.append((await mover.next("message", room=room))["id"])
        async with chat(survivor, unique("mover")) as mover:
            joined = await mover.join(room, since=seen[-1] if seen else 0)
            seen += [message["id"] for message in joined["messages"]]
            while seen[-1] < total:  # the rest, a page at a time
                await mover.send("history", room=room, after=seen[-1])
                seen += [m["id"] for m in (await mover.next("history"))["messages"]]
        stayed = [(await stayer.next("message", room=room))["id"] for _ in range(total)]
    assert seen == list(range(1, total + 1)), "the mover missed or doubled"
    assert stayed == list(range(1, total + 1))


@pytest.fixture
def own_redis(logs_dir):
    """A redis-server of this test's own, to kill and start again."""
    started = [servers.start_redis(logs_dir)]
    yield started
    for server in started:
        server.stop()


async def test_chat_goes_on_through_a_redis_outage_and_loses_nothing(
    own_redis, start_daphne
):
    """Alice and Bob share a worker, Carol is on the other. Redis dies: all are
    told; Alice's message is stored and reaches Bob live; Carol finds it by id
    once Redis is back, when live delivery to everyone resumes."""
    redis_server = own_redis[0]
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "REDIS_SOCKET_TIMEOUT": "1.5",
    }
    near, far = (start_daphne(**settings) for _ in range(2))
    room = f"outage-{uuid.uuid4().hex[:8]}"
    async with (
        chat(near, unique("alice")) as alice,
        chat(near, unique("bob")) as bob,
        chat(far, unique("carol")) as carol,
    ):
        for member in (alice, bob, carol):
            await member.join(room)
        await alice.say(room, "before")
        for member in (alice, bob, carol):
            assert (await member.next("message", room=room))["id"] == 1

        redis_server.stop()
        for member in (alice, bob, carol):
            await member.next("degraded")
        await alice.say(room, "during", client_id="during")
        for member in (alice, bob):
            stored = await member.next("message", room=room)
            assert (stored["text"], stored["id"]) == ("during", 2)
        await carol.expect_silence("message", room=room)

        own_redis.append(
            servers.start_redis(redis_server.log_path.parent, redis_server.port)
        )
        for member in (alice, bob, carol):
            await member.next("restored")
        await carol.send("history", room=room, after=1)
        missed = await carol.next("history", room=room)
        assert [m["text"] for m in missed["messages"]] == ["during"]

        await bob.say(room, "after")
        for member in (alice, bob, carol):
            live = await member.next("message", room=room)
            assert (live["text"], live["id"]) == ("after", 3)


async def test_a_member_removed_during_a_redis_outage_hears_no_more_once_it_is_back(
    own_redis, start_daphne, server_database_url
):
    """Alice owns a private room on one worker, Bob is a member on the other.
    Redis dies and Alice removes Bob: his worker never hears of it. Once Redis
    is back, Bob's connection checks its rooms before anything more of them
    reaches him: he is told he was removed, and Alice's next message does not
    reach him."""
    redis_server = own_redis[0]
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "REDIS_SOCKET_TIMEOUT": "1.5",
    }
    near, far = (start_daphne(**settings) for _ in range(2))
    tag = uuid.uuid4().hex[:6]
    names = [f"owner{tag}", f"member{tag}"]
    sessions = await asyncio.to_thread(registered_users, server_database_url, names)
    room = f"private-{tag}"
    async with (
        chat(near, session=sessions[names[0]]) as alice,
        chat(far, session=sessions[names[1]]) as bob,
    ):
        await alice.send("create", room=room, private=True)
        await alice.next("joined", room=room)
        await alice.send("invite", room=room, user=names[1])
        await bob.next("invited", room=room)
        await bob.join(room)

        redis_server.stop()
        for member in (alice, bob):
            await member.next("degraded")
        await alice.send("remove", room=room, user=names[1])
        await alice.next("member", room=room, action="removed")
        own_redis.append(
            servers.start_redis(redis_server.log_path.parent, redis_server.port)
        )
        removed = await bob.next("removed", room=room)
        assert (removed["reason"], removed["by"]) == ("removed", names[0])
        await bob.next("restored")
        await alice.next("restored")
        await alice.say(room, "not for bob")
        await alice.next("message", room=room, text="not for bob")
        await bob.expect_silence("message", room=room)
        await bob.send("history", room=room, after=0)
        assert (await bob.next("error"))["code"] == "not_joined"
