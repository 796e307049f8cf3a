"""Load generators on picows, a WebSocket client written in Cython, so that
the client is not what limits the figures. Each reports its own CPU use."""

import asyncio
import contextlib
import time
import zlib

from picows import WSCloseCode, WSListener, WSMsgType, ws_connect

PAYLOAD = b"0123456789abcdef0123456789abcdef"  # 32 bytes of text
ORIGIN = {"Origin": "http://127.0.0.1"}
# What a browser offers. A client that offers it compresses what it sends once
# the server accepts; the server then compresses what it sends back.
DEFLATE_OFFER = {
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"
}
CONNECT_BATCH = 200
# A fan-out whose deliveries stop for this long has lost what is outstanding.
LOST_AFTER_SECONDS = 10


def deflated(payload):
    """``payload`` compressed alone, as a permessage-deflate message body."""
    compressor = zlib.compressobj(wbits=-12)
    return (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


DEFLATED_PAYLOAD = deflated(PAYLOAD)


def negotiated_deflate(transport):
    accepted = transport.response.headers.get("Sec-WebSocket-Extensions", "")
    return accepted.startswith("permessage-deflate")


def send_payload(transport, compressed):
    if compressed:
        transport.send(WSMsgType.TEXT, DEFLATED_PAYLOAD, rsv1=True)
    else:
        transport.send(WSMsgType.TEXT, PAYLOAD)


def percentile(samples, fraction):
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_figures(latencies):
    return {
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


class Clock:
    """Wall time and CPU time over one measurement: this process's, and that of
    any servers named in ``watch`` (name: a ``targets.Running`` or a list of
    them), each reported as ``<name>_cores``, the cores it kept busy on average.
    """

    def __init__(self, watch=None):
        self.watch = {
            name: servers if isinstance(servers, list) else [servers]
            for name, servers in (watch or {}).items()
        }

    def _server_cpu(self):
        return {
            name: sum(server.cpu_seconds() for server in servers)
            for name, servers in self.watch.items()
        }

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.server_cpu = self._server_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        after = self._server_cpu()
        self.server_cpu = {name: after[name] - self.server_cpu[name] for name in after}

    @property
    def client_cpu(self):
        return self.cpu / self.wall

    @property
    def cores(self):
        return {
            f"{name}_cores": seconds / self.wall
            for name, seconds in self.server_cpu.items()
        }


class EchoLoop(WSListener):
    """Sends the payload, waits for it to come back, sends again."""

    def __init__(self, run):
        self.run = run
        self.sent_at = 0.0
        self.compressed = False

    def send(self, transport):
        self.sent_at = time.perf_counter()
        send_payload(transport, self.compressed)

    def on_ws_connected(self, transport):
        self.transport = transport
        self.compressed = negotiated_deflate(transport)

    def on_ws_frame(self, transport, frame):
        if frame.msg_type != WSMsgType.TEXT:
            return
        if self.run.measuring:
            self.run.latencies.append(time.perf_counter() - self.sent_at)
        if self.run.going:
            self.send(transport)


class EchoRun:
    def __init__(self):
        self.latencies = []
        self.measuring = False
        self.going = True


async def connect_many(url, count, listener_factory, deflate=False):
    return await connect_each([url] * count, listener_factory, deflate)


async def connect_each(urls, listener_factory, deflate=False):
    """One connection to each URL, CONNECT_BATCH at a time; with ``deflate``,
    each offers permessage-deflate."""
    headers = {**ORIGIN, **DEFLATE_OFFER} if deflate else ORIGIN
    pairs = []
    for start in range(0, len(urls), CONNECT_BATCH):
        pairs.extend(
            await asyncio.gather(
                *(
                    ws_connect(listener_factory, url, extra_headers=headers)
                    for url in urls[start : start + CONNECT_BATCH]
                )
            )
        )
    return pairs


async def close_all(pairs):
    for transport, _ in pairs:
        transport.send_close(WSCloseCode.OK)
        transport.disconnect()
    await asyncio.gather(*(transport.wait_disconnected() for transport, _ in pairs))


async def echo_round_trips(
    url, connections, seconds, warmup=1.0, watch=None, deflate=False
):
    """Closed loop: each connection keeps one 32-byte message in flight."""
    run = EchoRun()
    pairs = await connect_many(url, connections, lambda: EchoLoop(run), deflate)
    for transport, listener in pairs:
        listener.send(transport)
    await asyncio.sleep(warmup)
    run.measuring = True
    with Clock(watch) as clock:
        await asyncio.sleep(seconds)
        run.measuring = False
    run.going = False
    await asyncio.sleep(0.2)
    await close_all(pairs)
    return {
        "connections": connections,
        "round_trips_per_s": len(run.latencies) / clock.wall,
        **latency_figures(run.latencies),
        "client_cpu": clock.client_cpu,
        **clock.cores,
    }


class Quiet(WSListener):
    def on_ws_frame(self, transport, frame):
        pass


async def handshakes(url, concurrency, seconds):
    """Open a connection, close it, repeat, from ``concurrency`` loops at once."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop():
        nonlocal done
        while time.perf_counter() < deadline:
            transport, _ = await ws_connect(Quiet, url, extra_headers=ORIGIN)
            done += 1
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            await transport.wait_disconnected()

    with Clock() as clock:
        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return {
        "concurrency": concurrency,
        "handshakes_per_s": done / clock.wall,
        "client_cpu": clock.client_cpu,
    }


class Answered(WSListener):
    """Sends one message when told to and notes that an answer came."""

    def __init__(self):
        self.answered = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport):
        self.compressed = negotiated_deflate(transport)

    def on_ws_frame(self, transport, frame):
        if not self.answered.done():
            self.answered.set_result(None)


async def idle_memory(server, url, count, settle=2.0, deflate=False, exchange=False):
    """Resident memory the server adds per idle open connection; with
    ``exchange``, after each connection has had one message echoed."""
    return await idle_group_memory([server], [url], count, settle, deflate, exchange)


async def idle_group_memory(
    servers, urls, count, settle=2.0, deflate=False, exchange=False
):
    """The same over several servers, the connections alternating between
    ``urls``; memory is the servers' sum."""

    def memory():
        return sum(server.memory() for server in servers)

    await asyncio.sleep(settle)
    before = memory()
    pairs = []
    for index, url in enumerate(urls):
        share = count // len(urls) + (index < count % len(urls))
        pairs.extend(await connect_many(url, share, Answered, deflate))
    if exchange:
        for transport, listener in pairs:
            send_payload(transport, listener.compressed)
        await asyncio.gather(*(listener.answered for _, listener in pairs))
    await asyncio.sleep(settle)
    after = memory()
    await close_all(pairs)
    return {
        "connections": count,
        "server_rss_before_mb": before / 2**20,
        "server_rss_after_mb": after / 2**20,
        "kb_per_connection": (after - before) / count / 1024,
    }


class Member(WSListener):
    """A group member: records how long each message took to reach it."""

    def __init__(self, run):
        self.run = run

    def on_ws_frame(self, transport, frame):
        if frame.msg_type != WSMsgType.TEXT:
            return
        number = int(frame.get_payload_as_ascii_text().split(" ", 1)[0])
        self.run.delivered(number)


class FanOutRun:
    def __init__(self, members, window):
        self.members = members
        self.window = asyncio.Semaphore(window)
        self.sent_at = {}
        self.remaining = {}
        self.latencies = []
        self.all_done = asyncio.Event()
        self.duplicates = 0

    def send(self, sender, number):
        self.remaining[number] = self.members
        self.sent_at[number] = time.perf_counter()
        self.all_done.clear()
        sender.send(WSMsgType.TEXT, b"%d %s" % (number, PAYLOAD))

    def delivered(self, number):
        if number not in self.remaining:
            self.duplicates += 1
            return
        self.latencies.append(time.perf_counter() - self.sent_at[number])
        self.remaining[number] -= 1
        if self.remaining[number] == 0:
            del self.remaining[number]
            self.window.release()
            if not self.remaining:
                self.all_done.set()

    async def finish(self):
        """Wait for what is in flight; what never arrives is lost."""
        if self.remaining:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_done.wait(), LOST_AFTER_SECONDS)
        return sum(self.remaining.values())


async def fan_out(member_urls, messages, seconds, offered, window=4, watch=None):
    """One member sends; every member, the sender included, must receive.

    Saturation: at most ``window`` messages in flight, a message done when
    every member has it, for ``messages`` messages or ``seconds``, or until
    deliveries stall for LOST_AFTER_SECONDS. Then latency at a fixed load:
    ``offered`` deliveries a second for ``seconds``, sent on a schedule.
    Deliveries that never arrive are counted lost, second copies duplicated.
    """
    run = FanOutRun(len(member_urls), window)
    pairs = await connect_each(member_urls, lambda: Member(run))
    await asyncio.sleep(0.5)
    sender = pairs[0][0]
    sent = 0
    with Clock(watch) as clock:
        deadline = time.perf_counter() + seconds
        while sent < messages and time.perf_counter() < deadline:
            try:
                await asyncio.wait_for(run.window.acquire(), LOST_AFTER_SECONDS)
            except TimeoutError:
                break
            run.send(sender, sent)
            sent += 1
        lost = await run.finish()
    saturated = {
        "deliveries_per_s": len(run.latencies) / clock.wall,
        **latency_figures(run.latencies),
    }

    run.latencies = []
    interval = run.members / offered
    start = time.perf_counter()
    for tick in range(max(1, int(seconds / interval))):
        await asyncio.sleep(max(0.0, start + tick * interval - time.perf_counter()))
        run.send(sender, sent)
        sent += 1
    lost += await run.finish()
    at_rate = latency_figures(run.latencies)
    await close_all(pairs)
    return {
        "members": run.members,
        "messages": sent,
        **saturated,
        "offered_per_s": offered,
        "offered_p50_ms": at_rate["p50_ms"],
        "offered_p99_ms": at_rate["p99_ms"],
        "lost": lost,
        "duplicates": run.duplicates,
        "client_cpu": clock.client_cpu,
        **clock.cores,
    }


class ChatMember(WSListener):
    """A chat member: counts itself joined, then records each message's
    arrival by the number its text starts with."""

    TEXT = b'"text":"'

    def __init__(self, run):
        self.run = run

    def on_ws_connected(self, transport):
        transport.send(WSMsgType.TEXT, b'{"type":"join","room":"%s"}' % self.run.room)

    def on_ws_frame(self, transport, frame):
        payload = frame.get_payload_as_bytes()
        if payload.startswith(b'{"type":"joined"'):
            self.run.member_joined()
        elif payload.startswith(b'{"type":"message"'):
            start = payload.index(self.TEXT) + len(self.TEXT)
            self.run.delivered(int(payload[start : payload.index(b" ", start)]))


class ChatRun(FanOutRun):
    """FanOutRun, with each message's time to its last member kept too."""

    def __init__(self, members, window):
        super().__init__(members, window)
        # A room of its own: a database may hold earlier runs' rooms, whose
        # client ids would make these messages resends.
        self.room = b"bench-%d" % time.time_ns()
        self.joined = 0
        self.completions = []
        self.all_joined = asyncio.Event()

    def member_joined(self):
        self.joined += 1
        if self.joined == self.members:
            self.all_joined.set()

    def send(self, sender, number):
        self.remaining[number] = self.members
        self.sent_at[number] = time.perf_counter()
        self.all_done.clear()
        sender.send(
            WSMsgType.TEXT,
            b'{"type":"message","room":"%s","text":"%d %s","client_id":"b%d"}'
            % (self.room, number, PAYLOAD, number),
        )

    def delivered(self, number):
        if self.remaining.get(number) == 1:
            self.completions.append(time.perf_counter() - self.sent_at[number])
        super().delivered(number)


async def chat_room(member_urls, seconds, offered, senders=10, window=100, watch=None):
    """Members join one room; ``senders`` of them (on both workers) take turns
    to send. Saturation: ``window`` messages in flight, each done when stored
    and received by every member, for ``seconds``; then ``offered`` messages a
    second for ``seconds``, timed from send to the last member's receipt."""
    run = ChatRun(len(member_urls), window)
    pairs = await connect_each(member_urls, lambda: ChatMember(run))
    turns = [transport for transport, _ in pairs[: max(1, senders)]]
    try:
        return await chat_in_turns(run, turns, seconds, offered, watch)
    finally:
        await close_all(pairs)


async def chat_in_turns(run, turns, seconds, offered, watch=None):
    """``chat_room``'s measurement, once ``run``'s members are connecting:
    ``turns`` are the senders (anything with picows' ``send``)."""
    await asyncio.wait_for(run.all_joined.wait(), 30)
    sent = 0
    with Clock(watch) as clock:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                await asyncio.wait_for(run.window.acquire(), LOST_AFTER_SECONDS)
            except TimeoutError:
                break
            run.send(turns[sent % len(turns)], sent)
            sent += 1
        lost = await run.finish()
    accepted = len(run.completions) / clock.wall

    run.completions = []
    start = time.perf_counter()
    for tick in range(max(1, int(seconds * offered))):
        await asyncio.sleep(max(0.0, start + tick / offered - time.perf_counter()))
        run.send(turns[sent % len(turns)], sent)
        sent += 1
    lost += await run.finish()
    at_rate = latency_figures(run.completions)
    return {
        "members": run.members,
        "senders": len(turns),
        "messages": sent,
        "accepted_per_s": accepted,
        "deliveries_per_s": accepted * run.members,
        "offered_per_s": offered,
        "p50_ms": at_rate["p50_ms"],
        "p99_ms": at_rate["p99_ms"],
        "lost": lost,
        "duplicates": run.duplicates,
        "client_cpu": clock.client_cpu,
        **clock.cores,
    }
