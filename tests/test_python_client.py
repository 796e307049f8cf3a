"""The Python client library (clients/chat.py) against the real service: two
writers and two readers across two workers, one worker SIGKILLed mid-chat.
Every member applies every message once and in order; every message sent is
confirmed once."""

import asyncio
import signal
import uuid

import pytest
import redis

from clients.chat import OPEN, RETRYING, ChatClient, ChatError

pytestmark = pytest.mark.server

PER_WRITER = 60
PACE_SECONDS = 0.02
# A bound, not an expectation: the others have it all within seconds.
CONVERGE_SECONDS = 45


async def applied_all(room, applied, total):
    arrived = asyncio.Event()
    stop = room.on("event", lambda event: len(applied) >= total and arrived.set())
    try:
        if len(applied) < total:
            await arrived.wait()
    finally:
        stop()


async def test_a_killed_workers_python_clients_resume_and_lose_nothing(
    start_daphne, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    workers = [start_daphne(**settings) for _ in range(2)]
    dead = set()

    def member(name, first):
        def url(attempt):
            alive = [w for w in workers if w not in dead]
            return alive[(first + attempt) % len(alive)].url_for(
                f"/ws/chat/?name={name}"
            )

        return ChatClient(url, user=name, first_retry=0.1, last_retry=1.0)

    name = uuid.uuid4().hex[:6]
    writers = [member(f"wa{name}", 0), member(f"wb{name}", 1)]
    readers = [member(f"ra{name}", 0), member(f"rb{name}", 1)]
    everyone = writers + readers
    states = {client: [] for client in everyone}
    for client in everyone:
        client.on("state", lambda change, client=client: states[client].append(change))
        client.connect()
    room_name = f"py-kill-{name}"
    try:
        async with asyncio.timeout(CONVERGE_SECONDS):
            await asyncio.gather(*(client.wait_for(OPEN) for client in everyone))
            rooms = await asyncio.gather(*(c.join(room_name) for c in everyone))
        applied = {client: [] for client in everyone}
        for client, room in zip(everyone, rooms, strict=True):
            room.on(
                "event",
                lambda e, client=client: (
                    e["type"] == "message" and applied[client].append(e)
                ),
            )

        sends = [[], []]
        for n in range(PER_WRITER):
            if n == PER_WRITER // 3:
                dead.add(workers[0])
                workers[0].process.send_signal(signal.SIGKILL)
            for w, writer in enumerate(writers):
                text = f"{writer.user} {n}"
                sends[w].append(asyncio.create_task(rooms[w].send(text)))
            await asyncio.sleep(PACE_SECONDS)
        total = PER_WRITER * len(writers)
        async with asyncio.timeout(CONVERGE_SECONDS):
            confirmed = [await asyncio.gather(*tasks) for tasks in sends]
            await asyncio.gather(
                *(
                    applied_all(room, applied[client], total)
                    for client, room in zip(everyone, rooms, strict=True)
                )
            )
    finally:
        for client in everyone:
            await client.close()

    for ids in confirmed:
        assert len(set(ids)) == PER_WRITER, "a message confirmed under two ids"
    for client in everyone:
        ids = [event["id"] for event in applied[client]]
        assert ids == sorted(set(ids)), f"{client.user} applied out of order or twice"
        texts = [event["text"] for event in applied[client]]
        assert len(set(texts)) == total, f"{client.user} missed a message"
        for writer in writers:
            own = [t for t in texts if t.startswith(f"{writer.user} ")]
            assert own == [f"{writer.user} {n}" for n in range(PER_WRITER)]
    for client in (writers[0], readers[0]):
        assert RETRYING in [change["state"] for change in states[client]]
    assert all(not room.unsent for room in rooms)


async def test_a_request_the_server_refuses_raises_its_error_code(start_daphne):
    server = start_daphne()
    name = f"py{uuid.uuid4().hex[:6]}"
    async with ChatClient(server.url_for(f"/ws/chat/?name={name}"), user=name) as chat:
        await chat.wait_for(OPEN)
        room = await chat.join(f"py-{name}")
        stored = await room.send("hello")
        ack = await room.react(stored, "👍")
        assert ack["type"] == "ack" and ack["id"] == stored + 1
        with pytest.raises(ChatError) as refused:
            await room.edit(stored + 99, "no such message")
        assert refused.value.code == "unknown_message"
        with pytest.raises(ChatError) as refused:
            await room.mark_read()
        assert refused.value.code == "login_required"
