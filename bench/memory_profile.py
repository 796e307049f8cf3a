"""python -m bench.memory_profile [--connections N] [--group] [--top N]

Where an idle connection's memory goes: starts one worker of the service
under tracemalloc (bench/traced_asgi.py), opens N idle connections to the
echo (or, with --group, to one echo group, so that each takes a channel), and
prints the source lines that allocated what the connections hold, in bytes
per connection. tracemalloc sees Python's allocations only: the figures add up
to less than the resident memory the benchmark's memory mode measures.
"""

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench import load, targets

SETTLE_SECONDS = 2.0


def traced_target(out):
    target = targets.stock_channels()
    target.name = "ours, traced"
    target.command[-1] = "bench.traced_asgi:application"
    target.env = targets.environment(TRACEMALLOC_OUT=str(out))
    return target


async def profile(connections, group, out):
    server = traced_target(out).start()
    try:
        path = "/ws/echo/traced/" if group else "/ws/echo/"
        await asyncio.sleep(SETTLE_SECONDS)
        server.process.send_signal(signal.SIGUSR1)
        await asyncio.sleep(SETTLE_SECONDS)
        pairs = await load.connect_many(
            server.url_for(path), connections, load.Answered
        )
        await asyncio.sleep(SETTLE_SECONDS)
        out.unlink(missing_ok=True)
        server.process.send_signal(signal.SIGUSR1)
        await asyncio.to_thread(written, out)
        await load.close_all(pairs)
    finally:
        server.stop()


def written(path, seconds=60):
    """Wait for another process to write ``path`` (it renames it into place)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not written")
        time.sleep(0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.memory_profile")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--group", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {targets.CLIENT_CORE})
    out = Path(tempfile.mkdtemp(prefix="tracemalloc-")) / "difference.tsv"
    uvloop.run(profile(args.connections, args.group, out))
    rows = []
    for line in out.read_text().splitlines():
        size, count, where = line.split("\t")
        rows.append((int(size), int(count), where))
    rows.sort(reverse=True)
    total = sum(size for size, _, _ in rows)
    per = args.connections
    print(f"{total / per / 1024:.1f} KB per connection seen by tracemalloc")
    for size, count, where in rows[: args.top]:
        where = where.replace(str(targets.REPOSITORY) + "/", "")
        where = where.split("site-packages/")[-1]
        print(f"{size / per:8.0f} B {count / per:5.1f} blocks  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
