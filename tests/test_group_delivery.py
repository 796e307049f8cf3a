"""Group delivery loses nothing: members who stay receive every message, once and
in order, while others churn, reset their connections, stop reading, or lose
their worker process. Real daphne workers, the suite's own redis-server."""

import asyncio
import contextlib
import os
import signal
import socket
import time

import psutil
import pytest
import redis
import websockets

from tests import servers
from tests.client import connect, receive, wait_until

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

# Bounded load: the churn runs until the sender is done, at most this long.
CHURN_SECONDS = 20
CHURNERS = 8


async def collect(member, count, seconds=30):
    """The next ``count`` messages ``member`` receives, within ``seconds``."""
    received = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while len(received) < count:
                received.append(await member.recv())
    return received


async def reset(websocket):
    """Drop the TCP connection with a reset: no close frame, no FIN."""
    sock = websocket.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    websocket.transport.abort()


class Churn:
    """Clients that join a group and leave it again, over and over, counting
    their joins, until stopped or CHURN_SECONDS pass."""

    def __init__(self, workers, group, leave):
        self.workers, self.group, self.leave = workers, group, leave
        self.joins = 0
        self.progress = asyncio.Condition()
        self.stop = asyncio.Event()

    async def client(self):
        deadline = time.monotonic() + CHURN_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            worker = self.workers[self.joins % len(self.workers)]
            websocket = await websockets.connect(
                f"ws://127.0.0.1:{worker.port}/ws/echo/{self.group}/",
                max_size=None,
                max_queue=None,
            )
            await asyncio.sleep(0.005)
            await self.leave(websocket)
            async with self.progress:
                self.joins += 1
                self.progress.notify_all()

    async def reached(self, joins):
        async with self.progress:
            await self.progress.wait_for(lambda: self.joins >= joins)


async def close_normally(websocket):
    await websocket.close()


async def stayers_receive_everything_while_others_churn(workers, leave, count):
    """Three members on each worker stay while eight clients join and leave
    the group (``leave`` is how); one of them sends ``count`` messages. Fails
    unless every stayer received every message, once and in order."""
    messages = [f"message {number}" for number in range(count)]
    async with contextlib.AsyncExitStack() as stack:
        stayers = [
            await stack.enter_async_context(connect(worker, "/ws/echo/churn/"))
            for worker in workers
            for _ in range(3)
        ]
        sender = stayers[0]
        churn = Churn(workers, "churn", leave)
        churners = [asyncio.create_task(churn.client()) for _ in range(CHURNERS)]
        receipts = [asyncio.create_task(collect(s, len(messages))) for s in stayers]
        for number, message in enumerate(messages):
            # Sending keeps pace with the churn, however fast this machine is:
            # a join and a leave for every five messages.
            await asyncio.wait_for(churn.reached(number // 5), CHURN_SECONDS)
            await sender.send(message)
        received = await asyncio.gather(*receipts)
        churn.stop.set()
        await asyncio.gather(*churners)

    assert churn.joins >= len(messages) // 5, "the churn never got going"
    for member, got in enumerate(received):
        assert got == messages, (
            f"member {member} on worker {member // 3}: "
            f"{len(got)} of {len(messages)}, {len(set(messages) - set(got))} missing"
        )


@pytest.mark.parametrize("leave", [close_normally, reset], ids=["close", "reset"])
async def test_members_who_stay_receive_everything_while_others_churn(
    redis_workers, leave
):
    await stayers_receive_everything_while_others_churn(redis_workers, leave, 1500)


async def test_killed_worker_leaves_the_other_delivering_everything(redis_workers):
    doomed, survivor = redis_workers
    messages = [f"message {number}" for number in range(600)]
    async with contextlib.AsyncExitStack() as stack:
        members = [
            await stack.enter_async_context(connect(worker, "/ws/echo/crash/"))
            for worker in (survivor, survivor, doomed, doomed)
        ]
        sender, staying = members[0], members[:2]
        receipts = [asyncio.create_task(collect(m, len(messages))) for m in staying]
        for number, message in enumerate(messages):
            await sender.send(message)
            if number == len(messages) // 3:
                doomed.process.send_signal(signal.SIGKILL)
            await asyncio.sleep(0.001)
        for received in await asyncio.gather(*receipts):
            assert received == messages
        for lost in members[2:]:
            lost.transport.abort()


def group_members(client, group):
    return {member.decode() for member in client.zrange(f"echo:group:{group}", 0, -1)}


async def test_killed_workers_memberships_lapse_within_the_bound(
    start_daphne, redis_url
):
    ttl = 2
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    doomed, survivor = (
        start_daphne(REDIS_URL=redis_url, CHANNEL_MEMBERSHIP_TTL=str(ttl))
        for _ in range(2)
    )
    async with (
        connect(doomed, "/ws/echo/orphans/"),
        connect(survivor, "/ws/echo/orphans/") as member,
    ):
        before = group_members(client, "orphans")
        assert len(before) == 2
        doomed.process.send_signal(signal.SIGKILL)
        # A refresh by the survivor removes the lapsed membership: within the
        # TTL and one heartbeat (a third of it) after the last refresh.
        await wait_until(
            lambda: len(group_members(client, "orphans")) == 1, seconds=ttl * 4 / 3 + 1
        )
        (dead,) = before - group_members(client, "orphans")
        inbox = f"echo:inbox:{dead.removeprefix('w:')}"
        waiting = client.llen(inbox)
        for number in range(20):
            await member.send(f"after {number}")
            assert await receive(member) == f"after {number}"
        assert client.llen(inbox) == waiting, "messages still pushed for the dead"


@pytest.fixture
def slow_reader_workers(start_daphne, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    limits = {
        "WEBSOCKET_SEND_BUFFER_BYTES": str(1024 * 1024),
        # Long enough that the slow reader, once it reads, finds the close frame.
        "WEBSOCKET_CLOSE_TIMEOUT": "60",
    }
    return [start_daphne(REDIS_URL=redis_url, **limits) for _ in range(2)]


async def closing_code(websocket, seconds=30):
    """Read until the server closes; the close frame's code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(seconds):
            while True:
                await websocket.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_member_that_stops_reading_is_closed_and_the_others_get_everything(
    slow_reader_workers,
):
    payloads = [number.to_bytes(4, "big") * 16384 for number in range(400)]
    async with contextlib.AsyncExitStack() as stack:
        readers = [
            await stack.enter_async_context(connect(worker, "/ws/echo/slow/"))
            for worker in slow_reader_workers
            for _ in range(2)
        ]
        # A client that queues one message and then stops reading its socket.
        slow = await stack.enter_async_context(
            connect(slow_reader_workers[0], "/ws/echo/slow/", max_queue=1)
        )
        receipts = [asyncio.create_task(collect(r, len(payloads))) for r in readers]
        for payload in payloads:
            await readers[0].send(payload)
        for received in await asyncio.gather(*receipts):
            assert received == payloads
        assert await closing_code(slow) == 3008
    assert "bytes unread" in slow_reader_workers[0].log


def rss(server):
    return psutil.Process(server.process.pid).memory_info().rss


async def flood_without_reading(server, megabytes):
    """Send ``megabytes`` 1 MB messages to the echo, never read the echoes,
    then vanish without a close frame."""
    message = os.urandom(1024 * 1024)
    client = await connect(server, max_queue=1, write_limit=2**20)
    with contextlib.suppress(websockets.ConnectionClosed):
        for _ in range(megabytes):
            await client.send(message)
    client.transport.abort()


async def test_worker_memory_returns_to_baseline_after_clients_that_never_read(
    start_daphne,
):
    server = start_daphne(WEBSOCKET_CLOSE_TIMEOUT="1")
    async with connect(server) as warm_up:
        for _ in range(5):
            await warm_up.send(os.urandom(1024 * 1024))
            await receive(warm_up)
    baseline = rss(server)
    for flooders in range(1, 4):
        await asyncio.wait_for(flood_without_reading(server, 300), 30)
        await wait_until(lambda n=flooders: server.log.count("bytes unread") == n)
        await wait_until(
            lambda n=flooders: server.log.count("WSDISCONNECT /ws/echo/") == n + 1
        )
    with contextlib.suppress(AssertionError):
        await wait_until(lambda: rss(server) <= baseline + 8 * 2**20, seconds=10)
    grown = (rss(server) - baseline) / 2**20
    assert grown <= 8, f"worker kept {grown:.0f} MB after its flooders left"


@pytest.fixture
def own_redis(logs_dir):
    """A redis-server of this test's own, to freeze."""
    server = servers.start_redis(logs_dir)
    yield server
    server.process.send_signal(signal.SIGCONT)
    server.stop()


async def read_until_closed(member, received):
    """Append every message to ``received``; the close code at the end."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            received.append(await member.recv())
    return member.close_code, time.monotonic()


FROZEN_TIMEOUT = 1.5


async def test_frozen_redis_is_never_silent(own_redis, start_daphne):
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    workers = [
        start_daphne(REDIS_URL=url, REDIS_SOCKET_TIMEOUT=str(FROZEN_TIMEOUT))
        for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        members = [
            await stack.enter_async_context(connect(worker, "/ws/echo/frozen/"))
            for worker in workers
            for _ in range(2)
        ]
        logs = [[] for _ in members]
        readers = [
            asyncio.create_task(read_until_closed(member, log))
            for member, log in zip(members, logs, strict=True)
        ]
        sent = []
        frozen_at = None
        with contextlib.suppress(websockets.ConnectionClosed):
            for number in range(2000):
                if number == 20:
                    own_redis.process.send_signal(signal.SIGSTOP)
                    frozen_at = time.monotonic()
                await members[0].send(f"message {number}")
                sent.append(f"message {number}")
                await asyncio.sleep(0.01)
        async with asyncio.timeout(15):
            endings = await asyncio.gather(*readers)
        own_redis.process.send_signal(signal.SIGCONT)

    for (code, closed_at), log in zip(endings, logs, strict=True):
        assert code == 1013, "a member was not told"
        # REDIS_SOCKET_TIMEOUT after the freeze, with room for a busy machine.
        assert closed_at - frozen_at < FROZEN_TIMEOUT + 3
        # What a member did get is what was sent, in order, with no gap.
        assert log == sent[: len(log)]

    async with connect(workers[1], "/ws/echo/frozen/") as member:
        await member.send("thawed")
        assert await receive(member) == "thawed"
