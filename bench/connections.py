"""Many connections on one worker.

``connections``: open N WebSocket connections to one worker, all members of
one echo group, from several loopback source addresses (127.0.0.2 and up, so
that the client's ephemeral ports suffice); hold them idle with the server's
keep-alive pings; measure the worker's memory and CPU while idle; send one
group message and time it to the last member; then SIGTERM the worker and
count the 1001 closes. It raises this process's descriptor limit, and so
the worker's, for N; where the machine will not, it measures as many as fit
and says so.
"""

import asyncio
import resource
import signal
import sys
import time

from picows import WSListener, WSMsgType, ws_connect

from bench import load, targets

GROUP_PATH = "/ws/echo/crowd/"
PORTS_PER_SOURCE = 2_000
CONNECT_CONCURRENCY = 256
DESCRIPTORS_SPARE = 1000


def descriptor_budget(count, spare=DESCRIPTORS_SPARE):
    """Raise this process's descriptor limit, and so the worker's, for
    ``count`` connections and ``spare`` more descriptors; the count that fits
    where the machine refuses."""
    wanted = count + spare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return count
    try:
        # As root the hard limit may be raised too, up to fs.nr_open.
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
        return count
    except (ValueError, PermissionError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        fitting = hard - spare
        print(
            f"[{count:,} connections need {wanted:,} descriptors a process; "
            f"this machine allows {hard:,}: measuring {fitting:,}]",
            file=sys.stderr,
        )
        return fitting


def source_address(number):
    return f"127.0.0.{2 + number // PORTS_PER_SOURCE}"


class Crowd:
    """What the clients saw: arrivals of the group message, closes by code."""

    def __init__(self):
        self.arrived = []
        self.expected = 0
        self.all_arrived = asyncio.Event()
        self.closes = {}
        self.open = 0


class CrowdMember(WSListener):
    def __init__(self, crowd):
        self.crowd = crowd

    def on_ws_connected(self, transport):
        self.crowd.open += 1

    def on_ws_frame(self, transport, frame):
        if frame.msg_type == WSMsgType.TEXT:
            self.crowd.arrived.append(time.perf_counter())
            if len(self.crowd.arrived) == self.crowd.expected:
                self.crowd.all_arrived.set()
        elif frame.msg_type == WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.crowd.closes[code] = self.crowd.closes.get(code, 0) + 1

    def on_ws_disconnected(self, transport):
        self.crowd.open -= 1


async def open_crowd(url, count, crowd, first=0):
    """``count`` connections, CONNECT_CONCURRENCY at a time; (pairs, seconds)."""
    pairs = []
    started = time.perf_counter()
    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(number):
        async with semaphore:
            pairs.append(
                await ws_connect(
                    lambda: CrowdMember(crowd),
                    url,
                    extra_headers=load.ORIGIN,
                    read_buffer_init_size=512,
                    local_addr=(source_address(first + number), 0),
                )
            )

    await asyncio.gather(*(one(number) for number in range(count)))
    return pairs, time.perf_counter() - started


def worker_target(count, **settings):
    return targets.ours(WEBSOCKET_MAX_CONNECTIONS=str(count + 100), **settings)


async def measure_connections(plan):
    count = descriptor_budget(plan.crowd)
    server = worker_target(count).start()
    crowd = Crowd()
    try:
        url = server.url_for(GROUP_PATH)
        before = server.memory()
        pairs, opening = await open_crowd(url, count, crowd)
        await asyncio.sleep(plan.settle)
        with load.Clock(watch={"worker": server}) as idle:
            await asyncio.sleep(plan.crowd_idle)
        memory = server.memory()
        dropped = count - crowd.open
        crowd.expected = count
        sender, _ = pairs[0]
        sent_at = time.perf_counter()
        sender.send(WSMsgType.TEXT, b"to everyone")
        await asyncio.wait_for(crowd.all_arrived.wait(), plan.crowd_broadcast_wait)
        broadcast = crowd.arrived[-1] - sent_at
        closing = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(transport.wait_disconnected() for transport, _ in pairs))
        closed = time.perf_counter() - closing
    finally:
        server.stop()
    return [
        {
            "target": "ours, one worker",
            "connections": count,
            "asked_for": plan.crowd,
            "opened_per_s": count / opening,
            "dropped_while_idle": dropped,
            "kb_per_connection": (memory - before) / count / 1024,
            "idle_worker_cores": idle.cores["worker_cores"],
            "idle_seconds": plan.crowd_idle,
            "broadcast_seconds": broadcast,
            "deliveries_per_s": count / broadcast,
            "closed_1001": crowd.closes.get(1001, 0),
            "close_seconds": closed,
        }
    ]
