"""python -m bench.soak [--seconds N]: chat under mixed trouble, every message
counted.

Two workers share Redis and a database (DATABASE_URL, or a fresh SQLite file)
on loopback. For the run's length: members chat in one room, each sender a few
messages a second with a client_id; clients join and leave all the while; one
member never reads; one client floods until it is cut off; half-way, the first
worker is killed with SIGKILL and its clients come back on the other with
``since``, sending again what was not confirmed. At the end every member
catches up by id, and the report gives what each worker's memory did and what
was lost (must be 0: every stored message reached every member, and every
message a sender sent was stored once). The exit status is 1 if anything was
lost.
"""

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys

import websockets

from bench import targets

ROOM = "soak"
MEMBERS_PER_WORKER = 6
SENDERS = 4  # of the members, alternating between the workers
SEND_PER_SECOND = 4  # each sender: under CHAT_RATE_PER_SECOND (10)
CHURN_LOOPS = 4
FLOOD_MESSAGES = 400
RECONNECT_SECONDS = 0.3
CATCH_UP_SECONDS = 30


class Member:
    """A chat client that keeps every id it has seen, reconnects to the next
    worker when its connection drops, and (as a sender) sends again what was
    not yet seen stored."""

    def __init__(self, name, urls, first, sends):
        self.name = name
        self.urls = urls
        self.turn = first
        self.sends = sends
        self.ids = set()
        self.texts = {}  # id -> text
        self.contiguous = 0  # every id up to this one seen
        self.asked_after = None  # the id a history request is out for
        self.joined_before = False
        self.pending = {}  # client_id -> text
        self.sent = 0
        self.reconnects = 0
        self.websocket = None

    def url(self):
        return f"{self.urls[self.turn % len(self.urls)]}?name={self.name}"

    async def run(self, stop):
        while not stop.is_set():
            try:
                async with websockets.connect(self.url(), max_queue=None) as websocket:
                    self.websocket = websocket
                    await self.converse(websocket, stop)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                pass
            self.websocket = None
            if not stop.is_set():
                self.reconnects += 1
                self.turn += 1
                await asyncio.sleep(RECONNECT_SECONDS * random.uniform(0.5, 1.5))

    async def converse(self, websocket, stop):
        await self.join(websocket)
        sending = asyncio.create_task(self.send_steadily(websocket, stop))
        try:
            async for text in websocket:
                await self.take(websocket, json.loads(text))
                if stop.is_set():
                    break
        finally:
            sending.cancel()

    async def join(self, websocket):
        join = {"type": "join", "room": ROOM}
        if self.joined_before:
            join["since"] = self.contiguous
        await websocket.send(json.dumps(join))
        self.joined_before = True

    async def send_steadily(self, websocket, stop):
        for client_id, text in list(self.pending.items()):
            await self.say(websocket, client_id, text)
        while self.sends and not stop.is_set():
            await asyncio.sleep(1 / SEND_PER_SECOND)
            client_id = f"{self.name}-{self.sent}"
            self.sent += 1
            self.pending[client_id] = client_id
            await self.say(websocket, client_id, client_id)

    async def say(self, websocket, client_id, text):
        message = {
            "type": "message",
            "room": ROOM,
            "text": text,
            "client_id": client_id,
        }
        await websocket.send(json.dumps(message))

    async def take(self, websocket, reply):
        kind = reply.get("type")
        if kind in ("joined", "history"):
            messages, newest = reply["messages"], reply["last_id"]
        elif kind == "message":
            messages, newest = [reply], reply["id"]
        else:
            return
        for message in messages:
            self.ids.add(message["id"])
            self.texts[message["id"]] = message["text"]
            self.pending.pop(message.get("client_id"), None)
        while self.contiguous + 1 in self.ids:
            self.contiguous += 1
        if kind != "message":
            self.asked_after = None  # a history answer: ask again if need be
        gap = max(newest, max(self.ids, default=0)) > self.contiguous
        if gap and self.asked_after != self.contiguous:
            self.asked_after = self.contiguous
            ask = {"type": "history", "room": ROOM, "after": self.contiguous}
            await websocket.send(json.dumps(ask))

    async def catch_up(self, last_id):
        """After the run: history until every id up to ``last_id`` is seen and
        every pending message confirmed."""
        async with asyncio.timeout(CATCH_UP_SECONDS):
            while self.contiguous < last_id or self.pending:
                with contextlib.suppress(OSError, websockets.ConnectionClosed):
                    async with websockets.connect(self.url(), max_queue=None) as ws:
                        self.asked_after = None
                        await self.join(ws)
                        for client_id, text in list(self.pending.items()):
                            await self.say(ws, client_id, text)
                        while self.contiguous < last_id or self.pending:
                            await self.take(ws, json.loads(await ws.recv()))
                            last_id = max(last_id, max(self.ids, default=0))
                self.turn += 1


async def churn(urls, stop, counts):
    """Clients that join the room and leave, over and over."""
    number = 0
    while not stop.is_set():
        number += 1
        url = f"{random.choice(urls)}?name=churn{number}x{random.randrange(10**6)}"
        with contextlib.suppress(OSError, websockets.ConnectionClosed):
            async with websockets.connect(url) as websocket:
                await websocket.send(json.dumps({"type": "join", "room": ROOM}))
                await asyncio.sleep(random.uniform(0.05, 0.3))
                counts["churned"] += 1
        await asyncio.sleep(0.01)


async def never_read(url, stop, counts):
    """A member that joins and then reads nothing."""
    async with websockets.connect(f"{url}?name=sloth", max_queue=1) as websocket:
        await websocket.send(json.dumps({"type": "join", "room": ROOM}))
        await stop.wait()
        counts["slow reader"] = websocket.close_code or "still open"


async def flood(url, counts):
    """A client that sends as fast as it can until it is cut off."""
    async with websockets.connect(f"{url}?name=flood", max_queue=None) as websocket:
        await websocket.send(json.dumps({"type": "join", "room": ROOM}))
        with contextlib.suppress(websockets.ConnectionClosed):
            for number in range(FLOOD_MESSAGES):
                text = f"flood {number}"
                await websocket.send(
                    json.dumps({"type": "message", "room": ROOM, "text": text})
                )
            async for text in websocket:
                if json.loads(text).get("code") == "rate_limited":
                    counts["flood refused"] += 1
        counts["flood closed with"] = websocket.close_code


async def soak(seconds):
    database = targets.migrated_database("soak")
    redis = targets.redis_server().start()
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "DATABASE_URL": database,
        "CHAT_RATE_PER_SECOND": "10",  # the default, which the flood must meet
    }
    workers = [targets.ours(cores=(core,), **settings).start() for core in (0, 1)]
    urls = [worker.url_for("/ws/chat/") for worker in workers]
    counts = {"churned": 0, "flood refused": 0}
    memory = {"start": [worker.memory() / 2**20 for worker in workers]}
    stop = asyncio.Event()
    members = [
        Member(f"m{number}", urls, number % 2, sends=number < SENDERS)
        for number in range(2 * MEMBERS_PER_WORKER)
    ]
    try:
        tasks = [asyncio.create_task(member.run(stop)) for member in members]
        tasks += [
            asyncio.create_task(churn(urls, stop, counts)) for _ in range(CHURN_LOOPS)
        ]
        tasks.append(asyncio.create_task(never_read(urls[1], stop, counts)))
        await asyncio.sleep(seconds / 4)
        await flood(urls[1], counts)
        await asyncio.sleep(seconds / 4)
        memory["before the kill"] = [worker.memory() / 2**20 for worker in workers]
        workers[0].process.send_signal(signal.SIGKILL)
        await asyncio.sleep(seconds / 2)
        memory["end (survivor)"] = [workers[1].memory() / 2**20]
        stop.set()
        await asyncio.sleep(1)  # what is in flight lands
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A sender's catching up may store what it had sent unconfirmed, so
        # every member catches up again until no new id appears.
        last_id = -1
        while last_id != (newest := max(max(m.ids, default=0) for m in members)):
            last_id = newest
            for member in members:
                member.urls = urls[1:]
                await member.catch_up(last_id)
    finally:
        for server in [*workers, redis]:
            server.stop()
    lost = sum(len(set(range(1, last_id + 1)) - member.ids) for member in members)
    unconfirmed = sum(len(member.pending) for member in members)
    texts = members[0].texts.values()
    from_senders = [text for text in texts if not text.startswith("flood ")]
    return {
        "seconds": seconds,
        "stored": last_id,
        "sent by senders": sum(member.sent for member in members),
        "lost": lost,
        "unconfirmed": unconfirmed,
        "stored twice": len(from_senders) - len(set(from_senders)),
        "reconnects": sum(member.reconnects for member in members),
        "worker killed at": f"{seconds / 2:.0f} s",
        **counts,
        "memory MB": {
            name: [round(mb, 1) for mb in values] for name, values in memory.items()
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.seconds))
    print(json.dumps(report, indent=2))
    failed = report["lost"] or report["unconfirmed"] or report["stored twice"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
