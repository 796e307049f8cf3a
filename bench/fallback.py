"""The HTTP fallback beside the WebSocket, in one run: one chat room over two
workers, its members all on WebSockets, then all on event streams posting
over HTTP; and what an idle member costs a worker each way.

Both rooms are measured as the chat mode measures one (``load.chat_in_turns``):
saturation with a window of messages in flight, then a fixed rate for the
latency, each message timed from its send to its last member's receipt.
"""

import asyncio
import json
import time

from bench import load, targets
from harness.event_stream import EventStream, Poster

# Settings for the capacity runs: the production limits off (the chat rate
# would refuse the benchmark's senders).
UNLIMITED = {"CHAT_RATE_PER_SECOND": "0"}


class StreamMember:
    """A member on an event stream: joins by POST, reports each message's
    arrival to the run, and sends as a picows transport does (``send``)."""

    def __init__(self, run, port, name):
        self.run, self.port = run, port
        self.stream = EventStream(port, f"/sse/chat/?name={name}")
        self.reading = None

    async def start(self):
        await self.stream.open()
        await self.stream.next_event()  # the session
        self.poster = Poster(self.port, self.stream)
        self.reading = asyncio.ensure_future(self.read())
        join = {"type": "join", "room": self.run.room.decode()}
        self.poster.send(json.dumps(join))
        return self

    async def read(self):
        while True:
            name, data = await self.stream.next_event()
            if data.startswith('{"type":"joined"'):
                self.run.member_joined()
            elif data.startswith('{"type":"message"'):
                start = data.index('"text":"') + len('"text":"')
                self.run.delivered(int(data[start : data.index(" ", start)]))

    def send(self, _kind, payload):
        self.poster.send(payload.decode())

    def close(self):
        if self.reading is not None:
            self.reading.cancel()
        self.poster.close()
        self.stream.close()


async def stream_room(workers, members, seconds, offered, senders=10, watch=None):
    """``load.chat_room``, its members on event streams."""
    run = load.ChatRun(members, window=100)
    room = []
    try:
        for start in range(0, members, load.CONNECT_BATCH):
            batch = range(start, min(members, start + load.CONNECT_BATCH))
            room += await asyncio.gather(
                *(
                    StreamMember(run, workers[n % 2].port, f"s{n}").start()
                    for n in batch
                )
            )
        return await load.chat_in_turns(run, room[:senders], seconds, offered, watch)
    finally:
        for member in room:
            member.close()


async def idle_cost(server, count, settle):
    """KB a worker adds per idle chat member: on a WebSocket, on a stream."""
    figures = {}
    await asyncio.sleep(settle)
    before = server.memory()
    pairs = await load.connect_many(
        server.url_for("/ws/chat/?name=idle"), count, load.Quiet
    )
    await asyncio.sleep(settle)
    figures["websocket_kb"] = (server.memory() - before) / count / 1024
    await load.close_all(pairs)
    await asyncio.sleep(settle)
    before = server.memory()
    streams = [EventStream(server.port, "/sse/chat/?name=idle") for _ in range(count)]
    for start in range(0, count, load.CONNECT_BATCH):
        batch = streams[start : start + load.CONNECT_BATCH]
        await asyncio.gather(*(stream.open() for stream in batch))
        await asyncio.gather(*(stream.next_event() for stream in batch))
    await asyncio.sleep(settle)
    figures["stream_kb"] = (server.memory() - before) / count / 1024
    for stream in streams:
        stream.close()
    return figures


async def measure_fallback(plan):
    database = await asyncio.to_thread(targets.migrated_database, "fallback")
    redis = targets.redis_server().start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    workers = [
        targets.ours(
            cores=(core,), REDIS_URL=url, DATABASE_URL=database, **UNLIMITED
        ).start()
        for core in (0, 1)
    ]
    rows = []
    try:
        watch = {"workers": workers, "redis": redis}
        urls = [
            workers[n % 2].url_for(f"/ws/chat/?name=m{n}")
            for n in range(plan.chat_members)
        ]
        websocket = await load.chat_room(
            urls, plan.seconds, plan.chat_offered, watch=watch
        )
        rows.append({"target": "ours, WebSocket members", **websocket})
        streams = await stream_room(
            workers, plan.chat_members, plan.seconds, plan.chat_offered, watch=watch
        )
        rows.append({"target": "ours, HTTP fallback members", **streams})
        started = time.perf_counter()
        cost = await idle_cost(workers[0], plan.idle_connections, plan.settle)
        rows.append(
            {
                "target": "ours, one worker",
                "idle": plan.idle_connections,
                "seconds": time.perf_counter() - started,
                **cost,
            }
        )
    finally:
        for server in [*workers, redis]:
            server.stop()
    return rows
