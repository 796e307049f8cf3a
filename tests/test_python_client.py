"""The Python client library (clients/chat.py) against the real service: two
writers and two readers across two workers, one worker SIGKILLed mid-chat.
Every member applies every message once and in order; every message sent is
confirmed once."""

import asyncio
import json
import signal
import uuid

import pytest
import redis
import websockets

from clients.chat import OPEN, RETRYING, ChatClient, ChatError
from tests.conversation import (
    CONVERGE_SECONDS,
    PER_WRITER,
    check_conversation,
    converse,
    joined,
    member,
)

pytestmark = [pytest.mark.server, pytest.mark.once]


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
    urls = [worker.url_for("/ws/chat/") for worker in workers]
    dead = set()
    tag = uuid.uuid4().hex[:6]
    writers = [member(f"wa{tag}", urls, 0, dead), member(f"wb{tag}", urls, 1, dead)]
    readers = [member(f"ra{tag}", urls, 0, dead), member(f"rb{tag}", urls, 1, dead)]
    everyone = writers + readers
    retried = set()
    for client in everyone:
        client.on(
            "state",
            lambda change, client=client: (
                change["state"] == RETRYING and retried.add(client.user)
            ),
        )

    async def kill_the_first():
        dead.add(urls[0])
        workers[0].process.send_signal(signal.SIGKILL)

    try:
        rooms = await joined(everyone, f"py-kill-{tag}")
        applied = {client.user: [] for client in everyone}
        for room in rooms:
            room.on(
                "event",
                lambda event, room=room: (
                    event["type"] == "message"
                    and applied[room.client.user].append(event)
                ),
            )
        confirmed = await converse(rooms[:2], kill_the_first)
        total = PER_WRITER * len(writers)
        async with asyncio.timeout(CONVERGE_SECONDS):
            await asyncio.gather(
                *(applied_all(r, applied[r.client.user], total) for r in rooms)
            )
    finally:
        for client in everyone:
            await client.close()

    for name, events in applied.items():
        ids = [event["id"] for event in events]
        assert ids == sorted(set(ids)), f"{name} applied out of order or twice"
    texts = {name: [e["text"] for e in events] for name, events in applied.items()}
    check_conversation([w.user for w in writers], confirmed, texts)
    assert {writers[0].user, readers[0].user} <= retried
    assert all(not room.unsent for room in rooms)


async def test_a_request_the_server_refuses_raises_its_error_code(start_daphne):
    server = start_daphne()
    name = f"py{uuid.uuid4().hex[:6]}"
    async with ChatClient(server.url_for(f"/ws/chat/?name={name}"), user=name) as chat:
        await chat.wait_for(OPEN)
        room = await chat.join(f"py-{name}")
        stored = await room.send("hello")
        assert room.items[stored["id"]] is stored and stored["author"] == name
        ack = await room.react(stored["id"], "👍")
        assert ack["type"] == "ack" and ack["id"] == stored["id"] + 1
        with pytest.raises(ChatError) as refused:
            await room.edit(stored["id"] + 99, "no such message")
        assert refused.value.code == "unknown_message"
        with pytest.raises(ChatError) as refused:
            await room.mark_read()
        assert refused.value.code == "login_required"


async def test_a_message_acked_but_never_broadcast_is_fetched_with_history():
    """The client's side of a broadcast lost with a Redis node: the test plays
    the server, acking the message and sending nothing else until asked."""
    asked = []

    async def server(websocket):
        async for text in websocket:
            request = json.loads(text)
            if request["type"] == "rooms":
                continue
            if request["type"] == "join":
                reply = {
                    "type": "joined", "room": "lobby", "ref": request["client_id"],
                    "members": [], "messages": [], "last_id": 0, "epoch": "e1",
                    "reset": False, "private": False, "role": None, "muted": False,
                    "read": None, "seen": {},
                }  # fmt: skip
            elif request["type"] == "message":
                stored = {
                    "type": "message", "room": "lobby", "id": 1, "author": "ann",
                    "text": request["text"], "html": "", "ts": "t",
                    "client_id": request["client_id"], "edited": False,
                    "deleted": False, "reactions": {}, "reply_to": None,
                    "thread": None, "files": [],
                }  # fmt: skip
                reply = {"type": "ack", "ref": request["client_id"], "id": 1}
            else:
                asked.append(request)
                reply = {
                    "type": "history", "room": "lobby", "ref": request["client_id"],
                    "messages": [stored], "last_id": 1,
                }  # fmt: skip
            await websocket.send(json.dumps(reply))

    async with websockets.serve(server, "127.0.0.1", 0) as played:
        port = played.sockets[0].getsockname()[1]
        async with ChatClient(f"ws://127.0.0.1:{port}/ws/chat/", user="ann") as client:
            await client.wait_for(OPEN)
            room = await client.join("lobby")
            async with asyncio.timeout(10):
                message = await room.send("hello")
    assert message["id"] == 1
    assert [(r["type"], r["after"]) for r in asked] == [("history", 0)]


async def test_a_message_sent_before_any_event_arrived_is_confirmed_after_a_reconnect():
    """The client had applied nothing of its room when its connection died
    with a message unanswered; meanwhile others filled the room beyond the
    newest page. Its rejoin asks for all after 0, which holds the message:
    the newest page alone would not (the test plays the server)."""
    joins = []
    message = {}

    async def server(websocket):
        async for text in websocket:
            request = json.loads(text)
            if request["type"] == "message":
                message.update(request)
                websocket.transport.abort()  # stored, then the worker died
                return
            if request["type"] != "join":
                continue
            joins.append(request)
            stored = {
                "type": "message", "room": "lobby", "id": 1, "author": "ann",
                "text": message.get("text"), "html": "", "ts": "t",
                "client_id": message.get("client_id"), "edited": False,
                "deleted": False, "reactions": {}, "reply_to": None,
                "thread": None, "files": [],
            }  # fmt: skip
            newest = [
                {**stored, "id": n, "author": "bob", "client_id": None} for n in (5, 6)
            ]
            if len(joins) == 1:
                page, last_id = [], 0
            elif "since" in request:
                page, last_id = [stored], 6  # after 0: from 1, the rest by history
            else:
                page, last_id = newest, 6
            reply = {
                "type": "joined", "room": "lobby", "ref": request["client_id"],
                "members": [], "messages": page, "last_id": last_id, "epoch": "e1",
                "reset": False, "private": False, "role": None, "muted": False,
                "read": None, "seen": {},
            }  # fmt: skip
            await websocket.send(json.dumps(reply))

    async with websockets.serve(server, "127.0.0.1", 0) as played:
        port = played.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ws/chat/"
        async with ChatClient(url, user="ann", first_retry=0.05) as client:
            await client.wait_for(OPEN)
            room = await client.join("lobby")
            async with asyncio.timeout(5):
                confirmed = await room.send("hello")
    assert confirmed["id"] == 1 and confirmed["text"] == "hello"
    assert joins[1]["since"] == 0 and joins[1]["epoch"] == "e1"


async def test_events_of_a_new_room_that_arrive_out_of_order_are_all_applied():
    """Two workers store ids 1 and 2; the member on the second hears its own
    worker's 2 before Redis brings 1. Both are applied, in order, and the
    message of ours that is 1 is confirmed (the test plays the server)."""

    async def server(websocket):
        async for text in websocket:
            request = json.loads(text)
            if request["type"] == "join":
                reply = {
                    "type": "joined", "room": "lobby", "ref": request["client_id"],
                    "members": [], "messages": [], "last_id": 0, "epoch": "e1",
                    "reset": False, "private": False, "role": None, "muted": False,
                    "read": None, "seen": {},
                }  # fmt: skip
                await websocket.send(json.dumps(reply))
            elif request["type"] == "message":
                ours = {
                    "type": "message", "room": "lobby", "id": 1, "author": "ann",
                    "text": request["text"], "html": "", "ts": "t",
                    "client_id": request["client_id"], "edited": False,
                    "deleted": False, "reactions": {}, "reply_to": None,
                    "thread": None, "files": [],
                }  # fmt: skip
                theirs = {**ours, "id": 2, "author": "bob", "client_id": None}
                for event in (theirs, ours):
                    await websocket.send(json.dumps(event))

    async with websockets.serve(server, "127.0.0.1", 0) as played:
        port = played.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ws/chat/"
        async with ChatClient(url, user="ann") as client:
            await client.wait_for(OPEN)
            room = await client.join("lobby")
            applied = []
            room.on("event", lambda event: applied.append(event["id"]))
            async with asyncio.timeout(5):
                confirmed = await room.send("hello")
    assert confirmed["id"] == 1 and applied == [1, 2]
