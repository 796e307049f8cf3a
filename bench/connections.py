"""Many connections, over as many workers as they need.

``connections``: open N WebSocket connections, all members of one echo group,
spread over W workers (N / ``per_worker``, rounded up) behind one Redis, or
on one worker alone on the process layer. Each worker's share comes from a
client process of its own, from loopback source addresses of its own
(127.0.0.2 and up, so that ephemeral ports suffice), since this machine caps
every process at 20,000 descriptors. They are held idle with the servers'
keep-alive pings while the workers' memory and CPU are measured; one member
sends one group message, timed to the last member of all; then the workers
get SIGTERM and the 1001 closes are counted. Each process's descriptor limit
is raised for its share; where the machine will not, as many as fit are
measured, and it says so.
"""

import asyncio
import math
import multiprocessing
import resource
import signal
import sys
import time

import uvloop
from picows import WSListener, WSMsgType, ws_connect

from bench import load, targets

GROUP_PATH = "/ws/echo/crowd/"
PORTS_PER_SOURCE = 2_000
CONNECT_CONCURRENCY = 256
# After SIGTERM, how long a client process waits to see its connections close.
CLOSE_WAIT_SECONDS = 30
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
    workers_needed = math.ceil(plan.crowd / plan.crowd_per_worker)
    share = descriptor_budget(math.ceil(plan.crowd / workers_needed))
    count = share * workers_needed
    redis = targets.redis_server().start() if workers_needed > 1 else None
    settings = {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"} if redis else {}
    workers = [worker_target(share, **settings).start() for _ in range(workers_needed)]
    clients = []
    try:
        before = sum(worker.memory() for worker in workers)
        clients = [
            ClientProcess(worker.url_for(GROUP_PATH), share, number * share)
            for number, worker in enumerate(workers)
        ]
        # One share at a time: CONNECT_CONCURRENCY handshakes in flight in all,
        # as on one worker, so that Redis (on the clients' core) keeps up.
        opening = 0.0
        for client in clients:
            opening += await client.ask("open")
        await asyncio.sleep(plan.settle)
        with load.Clock(watch={"workers": workers}) as idle:
            await asyncio.sleep(plan.crowd_idle)
        memory = sum(worker.memory() for worker in workers)
        still_open = sum(await asyncio.gather(*(c.ask("count") for c in clients)))
        sent_at = await clients[0].ask("send")
        arrivals = await asyncio.gather(
            *(c.ask("wait", plan.crowd_broadcast_wait) for c in clients)
        )
        broadcast = max(arrivals) - sent_at
        closing = time.perf_counter()
        for worker in workers:
            worker.process.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(
            *(c.ask("closes", CLOSE_WAIT_SECONDS) for c in clients)
        )
        closed = time.perf_counter() - closing
        closes = [each for each, _ in answers]
    finally:
        for client in clients:
            client.stop()
        for server in [*workers, *([redis] if redis else [])]:
            server.stop()
    name = f"ours, {len(workers)} worker{'s' if len(workers) > 1 else ''}"
    return [
        {
            "target": name + (", Redis" if redis else ""),
            "connections": count,
            "workers": len(workers),
            "asked_for": plan.crowd,
            "opened_per_s": count / opening,
            "dropped_while_idle": count - still_open,
            "kb_per_connection": (memory - before) / count / 1024,
            "idle_worker_cores": idle.cores["workers_cores"],
            "idle_seconds": plan.crowd_idle,
            "broadcast_seconds": broadcast,
            "deliveries_per_s": count / broadcast,
            "closed_1001": sum(each.get(1001, 0) for each in closes),
            "close_seconds": closed,
            "not_seen_closed": sum(never for _, never in answers),
        }
    ]


class ClientProcess:
    """One worker's share of the crowd, held by a process of its own: it
    answers each request of the parent's in turn (see ``hold_share``)."""

    def __init__(self, url, count, first):
        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(
            target=hold_share, args=(url, count, first, theirs), daemon=True
        )
        self.process.start()

    async def ask(self, *request):
        self.pipe.send(request)
        answer = await asyncio.to_thread(self.pipe.recv)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def stop(self):
        self.process.kill()
        self.process.join(5)


def hold_share(url, count, first, pipe):
    uvloop.run(share_of_the_crowd(url, count, first, pipe))


async def share_of_the_crowd(url, count, first, pipe):
    """Requests, in order: ("open",) opens the share (its seconds); ("count",)
    how many are open; ("send",) one group message (when, by perf_counter,
    which is the machine's monotonic clock); ("wait", seconds) until every
    member has it (when the last did); ("closes",) until all are closed (how
    many closes of each code)."""
    descriptor_budget(count)
    crowd = Crowd()
    crowd.expected = count
    pairs = []
    try:
        while True:
            request = await asyncio.to_thread(pipe.recv)
            kind = request[0]
            if kind == "open":
                pairs, seconds = await open_crowd(url, count, crowd, first)
                pipe.send(seconds)
            elif kind == "count":
                pipe.send(crowd.open)
            elif kind == "send":
                sent_at = time.perf_counter()
                pairs[0][0].send(WSMsgType.TEXT, b"to everyone")
                pipe.send(sent_at)
            elif kind == "wait":
                await asyncio.wait_for(crowd.all_arrived.wait(), request[1])
                pipe.send(crowd.arrived[-1])
            elif kind == "closes":
                waits = [asyncio.ensure_future(t.wait_disconnected()) for t, _ in pairs]
                _, never = await asyncio.wait(waits, timeout=request[1])
                pipe.send((crowd.closes, len(never)))
                return
    except Exception as error:
        pipe.send(error)
