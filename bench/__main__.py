"""python -m bench [--quick] [--modes ...] [--rounds N] [--out DIR] [--charts]

Starts each server as a subprocess pinned to core 0, drives it from this
process pinned to core 1 (picows on uvloop), and prints a table in which each
figure of ours is also given as a ratio to the baselines measured in the
same run. Each mode runs in rounds (ours, then the baselines, then again), and
the table gives each figure's median over the rounds, so that a burst of noise
from a shared machine lands on one round rather than on one server. Raw
results, every round's included, go to DIR/results.json; --charts draws
DIR/*.png.
"""

import argparse
import asyncio
import copy
import json
import os
import platform
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop

from bench import load, targets
from bench.cluster_transport import measure_cluster_transport
from bench.connections import measure_connections
from bench.failover import measure_failover
from bench.fallback import measure_fallback
from bench.publish import measure_publish
from bench.search import measure_search
from bench.storm import measure_storm
from bench.unread import measure_unread
from harness.processes import free_ports
from harness.rounds import medians

MODES = (
    "echo",
    "handshakes",
    "memory",
    "fanout",
    "scaling",
    "layers",
    "chat",
    "fallback",
    "publish",
    "connections",
    "failover",
    "cluster-transport",
    "storm",
    "unread",
    "search",
)


class Plan:
    """How much of each mode to run: the full run, or a few seconds of each."""

    def __init__(self, quick):
        self.quick = quick
        self.rounds = 1 if quick else 3
        self.seconds = 0.5 if quick else 5.0
        # Pauses that let a server settle before a figure is read: warm-up
        # before round trips, and before and after idle connections open.
        self.warmup = 0.1 if quick else 1.0
        self.settle = 0.3 if quick else 2.0
        # Whether handshakes, memory and fan-out measure every server: a quick
        # run starts each only in the echo (the other modes put the same load
        # on every server, and each start costs one to two seconds).
        self.every_server = not quick
        self.echo_connections = (8,) if quick else (1, 32, 256)
        self.handshake_concurrency = 4 if quick else 16
        self.idle_connections = 100 if quick else 5000
        self.fanout_members = (10,) if quick else (10, 200, 1000)
        self.fanout_messages = 50 if quick else 5000
        # Deliveries a second offered for the latency figures: a load every
        # setup carries, so that p99 compares the path, not the queueing.
        self.fanout_offered = 2000
        # Memory per member of one idle group of idle_connections members.
        self.fanout_idle_members = not quick
        self.scaling_connections = 8 if quick else 64
        self.chat_members = 10 if quick else 100
        # Messages a second offered to the chat room for its latency figures.
        self.chat_offered = 200
        # Connections the connections mode opens, and how long they idle.
        self.crowd = 5000 if quick else 100_000
        # What one worker holds of them: this machine caps every process at
        # 20,000 descriptors (the quick run takes two workers, to run the path).
        self.crowd_per_worker = 2500 if quick else 19_000
        # Connections whose worker is killed in the storm mode.
        self.storm_crowd = 300 if quick else 100_000
        self.crowd_idle = 1.0 if quick else 60.0
        self.crowd_broadcast_wait = 60.0
        # The unread mode: stored messages, over how many rooms, how many of
        # them the reader sees, and how many times it asks for rooms.
        self.unread_messages = 20_000 if quick else 1_000_000
        self.unread_rooms_total = 200 if quick else 2000
        self.unread_reader_rooms = 100 if quick else 200
        self.unread_asks = 20 if quick else 200
        # The search mode: stored messages over how many rooms, how many of
        # them the reader sees, and how many searches it asks.
        self.search_messages = 20_000 if quick else 1_000_000
        self.search_rooms_total = 200 if quick else 2000
        self.search_reader_rooms = 100 if quick else 200
        self.search_asks = 25 if quick else 500


def baselines():
    """Every other server, measured in the same run as ours: stock Channels
    on daphne and on granian, webrockets (Rust), and the plain-Python
    ceilings, websockets and picows on uvloop."""
    return [
        targets.stock_channels(),
        targets.stock_on_granian(),
        targets.webrockets(),
        targets.plain_websockets(),
        targets.picows_echo(),
    ]


async def on_each_server(measure, ours=None, others=None):
    """Run ``measure(server)`` against ours (by default, on daphne and on
    granian) and the others (by default, every baseline), one at a time."""
    rows = []
    ours = ours or [targets.ours(), targets.ours_on_granian()]
    others = baselines() if others is None else others
    for target in [*ours, *others]:
        server = target.start()
        try:
            for figures in await measure(server):
                rows.append({"target": target.name, **figures})
        finally:
            server.stop()
    return rows


async def measure_echo(plan):
    async def measure(server):
        return [
            await load.echo_round_trips(
                server.url,
                connections,
                plan.seconds,
                warmup=plan.warmup,
                watch={"server": server},
                deflate=server.target.deflate,
            )
            for connections in plan.echo_connections
        ]

    return await on_each_server(measure, ours=ours_echoing())


def ours_and_deflate():
    return [targets.ours(), targets.ours_on_granian(), *deflate_on_and_off()]


def ours_echoing():
    """Ours as ``ours_and_deflate``, and ours on picows: a ceiling for the echo
    of a native transport under the same consumer (bench/picows_asgi.py)."""
    return [*ours_and_deflate(), targets.ours_on_picows()]


def deflate_on_and_off():
    return [targets.ours_exchanging(deflate) for deflate in (False, True)]


async def measure_handshakes(plan):
    async def measure(server):
        return [
            await load.handshakes(server.url, plan.handshake_concurrency, plan.seconds)
        ]

    if plan.every_server:
        return await on_each_server(measure)
    return await on_each_server(
        measure, ours=[targets.ours()], others=[targets.plain_websockets()]
    )


async def measure_memory(plan):
    async def measure(server):
        return [
            await load.idle_memory(
                server,
                server.url,
                plan.idle_connections,
                settle=plan.settle,
                deflate=server.target.deflate,
                exchange=server.target.exchange,
            )
        ]

    if plan.every_server:
        return await on_each_server(measure, ours=ours_and_deflate())
    return await on_each_server(
        measure,
        ours=[targets.ours(), *deflate_on_and_off()],
        others=[targets.plain_websockets()],
    )


# The fan-out setups: (row name, target factory, channel layer).
FANOUT_SETUPS = {
    "ours": ("ours, inbox layer", targets.ours, "inbox"),
    "ours-cluster": ("ours, inbox layer, Redis Cluster", targets.ours, "inbox"),
    "ours-core": ("ours, core layer", targets.ours, "core"),
    "ours-pubsub": ("ours, pub/sub layer", targets.ours, "pubsub"),
    "stock-core": ("stock Channels, core layer", targets.stock_channels, "core"),
    "stock-pubsub": (
        "stock Channels, pub/sub layer",
        targets.stock_channels,
        "pubsub",
    ),
    "ours-granian": ("ours on granian, inbox layer", targets.ours_on_granian, "inbox"),
    "ours-picows": (
        "ours on picows (a ceiling), inbox layer",
        targets.ours_on_picows,
        "inbox",
    ),
    "webrockets": ("webrockets, Redis broker", targets.webrockets, None),
    "websockets": ("websockets broadcast", targets.websockets_broadcast, None),
}


def two_workers(setup, redis_url):
    """Two single-worker servers of ``setup``, one per core, sharing Redis."""
    _, target, layer = FANOUT_SETUPS[setup]

    def start(core, port):
        return target(
            cores=(core,), REDIS_URL=redis_url, REDIS_CHANNEL_LAYER=layer
        ).start(port)

    # Started side by side: each takes a second to import Django. Their ports
    # are chosen together: chosen apart, both may get the same one, and the
    # second to bind fails while its start sees the first one listening.
    with ThreadPoolExecutor(2) as pool:
        starting = [
            pool.submit(start, core, port)
            for core, port in zip((0, 1), free_ports(2), strict=True)
        ]
    failed = [future.exception() for future in starting if future.exception()]
    if failed:
        for future in starting:
            if not future.exception():
                future.result().stop()
        raise failed[0]
    return [future.result() for future in starting]


async def fan_out_over_two_workers(plan, redis, setup, members):
    """Members alternate between the two workers."""
    workers = two_workers(setup, redis.url)
    try:
        urls = [
            workers[number % 2].url_for("/ws/echo/bench/") for number in range(members)
        ]
        figures = await load.fan_out(
            urls,
            plan.fanout_messages,
            plan.seconds,
            plan.fanout_offered,
            watch={"workers": workers, "redis": redis.servers},
        )
    finally:
        for worker in workers:
            worker.stop()
    figures["redis_cpu_ms_per_1000"] = (
        figures["redis_cores"] / figures["deliveries_per_s"] * 1e6
    )
    return figures


class RedisUnderTest:
    """The Redis a fan-out setup shares: one server, or a whole cluster."""

    def __init__(self, url, servers):
        self.url, self.servers = url, servers


async def idle_group_over_two_workers(plan, redis, setup):
    workers = two_workers(setup, redis.url)
    try:
        return await load.idle_group_memory(
            workers,
            [worker.url_for("/ws/echo/bench/") for worker in workers],
            plan.idle_connections,
            settle=plan.settle,
        )
    finally:
        for worker in workers:
            worker.stop()


# The fan-out mode's setups, in the order measured; a quick run keeps to one
# Redis (the cluster's fan-out is the suite's, tests/test_redis_cluster.py, and
# the full run's) and to the setups whose rows its test reads.
FANOUT_EVERY = (
    "ours",
    "ours-granian",
    "ours-picows",
    "ours-cluster",
    "stock-core",
    "stock-pubsub",
    "webrockets",
    "websockets",
)
FANOUT_QUICK = ("ours", "ours-granian", "webrockets", "websockets")


async def measure_fanout(plan, setups=None):
    """Each setup over two workers; ``ours-cluster`` on a Redis Cluster of
    three masters, the rest on one Redis, both pinned to the client's core."""
    if setups is None:
        setups = FANOUT_EVERY if plan.every_server else FANOUT_QUICK
    server = targets.redis_server().start()
    single = RedisUnderTest(f"redis://127.0.0.1:{server.port}/0", server)
    cluster = None
    rows = []
    try:
        for setup in setups:
            if setup == "ours-cluster" and cluster is None:
                cluster = await asyncio.to_thread(targets.redis_cluster)
            redis = (
                RedisUnderTest(cluster.url, cluster) if "cluster" in setup else single
            )
            name = FANOUT_SETUPS[setup][0]
            for members in plan.fanout_members:
                figures = await fan_out_over_two_workers(plan, redis, setup, members)
                rows.append({"target": name, **figures})
            if plan.fanout_idle_members and "cluster" not in setup:
                idle = await idle_group_over_two_workers(plan, redis, setup)
                rows.append({"target": name, "idle_members": True, **idle})
    finally:
        server.stop()
        if cluster is not None:
            cluster.stop()
    return rows


async def measure_layers(plan):
    plan = copy.copy(plan)
    plan.fanout_idle_members = False
    return await measure_fanout(plan, setups=("ours", "ours-core", "ours-pubsub"))


async def measure_chat(plan):
    """One room over two workers, on DATABASE_URL (PostgreSQL for the
    figures README gives) or a fresh SQLite file, and a Redis of its own."""
    database = await asyncio.to_thread(targets.migrated_database, "chat")
    redis = targets.redis_server().start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    workers = [
        targets.ours(cores=(core,), REDIS_URL=url, DATABASE_URL=database).start()
        for core in (0, 1)
    ]
    try:
        urls = [
            workers[number % 2].url_for(f"/ws/chat/?name=m{number}")
            for number in range(plan.chat_members)
        ]
        figures = await load.chat_room(
            urls,
            plan.seconds,
            plan.chat_offered,
            watch={"workers": workers, "redis": redis},
        )
    finally:
        for server in [*workers, redis]:
            server.stop()
    engine = database.split(":", 1)[0]
    return [{"target": f"ours, {engine}", **figures}]


async def measure_scaling(plan):
    # Both cores serve; the load generator takes its share of them too.
    os.sched_setaffinity(0, {targets.SERVER_CORE, targets.CLIENT_CORE})
    rows = []
    try:
        for workers in (1, 2):
            cores = (targets.SERVER_CORE,) if workers == 1 else (0, 1)
            server = targets.ours(workers=workers, cores=cores).start()
            try:
                figures = await load.echo_round_trips(
                    server.url,
                    plan.scaling_connections,
                    plan.seconds,
                    warmup=plan.warmup,
                    watch={"server": server},
                )
                rows.append(
                    {"target": server.target.name, "workers": workers, **figures}
                )
            finally:
                server.stop()
    finally:
        os.sched_setaffinity(0, {targets.CLIENT_CORE})
    return rows


MEASURES = {
    "echo": measure_echo,
    "handshakes": measure_handshakes,
    "memory": measure_memory,
    "fanout": measure_fanout,
    "scaling": measure_scaling,
    "layers": measure_layers,
    "chat": measure_chat,
    "fallback": measure_fallback,
    "publish": measure_publish,
    "connections": measure_connections,
    "failover": measure_failover,
    "cluster-transport": measure_cluster_transport,
    "storm": measure_storm,
    "unread": measure_unread,
    "search": measure_search,
}


# What tells one row of a mode's results from another; the rest are figures.
async def run(modes, plan):
    results, rounds = {}, {}
    for mode in modes:
        started = time.perf_counter()
        rounds[mode] = [await MEASURES[mode](plan) for _ in range(plan.rounds)]
        results[mode] = medians([row for one in rounds[mode] for row in one])
        print(f"[{mode}: {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    return results, rounds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds a mode")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--rounds", type=int, help="rounds of each mode (3; 1 with --quick)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--charts", action="store_true", help="draw PNG charts")
    parser.add_argument(
        "--connections",
        type=int,
        help="connections for the connections and storm modes "
        "(100,000; with --quick 5,000, and 300 for the storm)",
    )
    parser.add_argument(
        "--connections-per-worker",
        type=int,
        help="what one worker holds in the connections mode (19,000; 2,500 "
        "with --quick): the mode starts as many workers as the count needs",
    )
    args = parser.parse_args(argv)

    from bench import report

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {targets.CLIENT_CORE})
    plan = Plan(args.quick)
    if args.rounds:
        plan.rounds = args.rounds
    if args.connections:
        plan.crowd = plan.storm_crowd = args.connections
    if args.connections_per_worker:
        plan.crowd_per_worker = args.connections_per_worker
    results, rounds = uvloop.run(run(args.modes, plan))
    document = {
        "command": "python -m bench " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "quick": args.quick,
        "rounds": plan.rounds,
        "results": results,
        "every_round": rounds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(document, indent=2))
    print(report.table(document))
    if args.charts:
        for path in report.charts(document, args.out):
            print(f"chart: {path}")


if __name__ == "__main__":
    main()
