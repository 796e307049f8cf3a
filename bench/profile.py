"""python -m bench.profile [--target ours|ours-granian|ours-picows|stock]
[--load echo|handshakes|fanout|chat] [--members N] [--rate N]

Runs one server under py-spy while the benchmark's load generator drives it,
and prints the functions where the server spends its time: self time (the
function itself) and total time (with what it calls), as shares of samples.
With ``--load fanout`` two workers share a Redis of their own, a group of
``--members`` alternates between them, and the first worker is profiled;
``--load chat`` does the same with a chat room, on DATABASE_URL (else SQLite)
and the sender on the first worker.
"""

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

from bench import load, targets

PY_SPY = str(Path(sys.executable).with_name("py-spy"))


def top_functions(collapsed_path, count):
    self_time, total_time = collections.Counter(), collections.Counter()
    samples = 0
    for line in Path(collapsed_path).read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        frames = [
            frame.rsplit(" (", 1)[0] + " " + location(frame)
            for frame in stack.split(";")
        ]
        weight = int(number)
        samples += weight
        self_time[frames[-1]] += weight
        for frame in set(frames):
            total_time[frame] += weight
    return samples, self_time.most_common(count), total_time.most_common(count)


def location(frame):
    inside = frame.rsplit(" (", 1)[-1].rstrip(")")
    path, _, line = inside.partition(":")
    parts = Path(path).parts
    short = "/".join(
        parts[parts.index("site-packages") + 1 :]
        if "site-packages" in parts
        else parts[-2:]
    )
    return f"({short})"


async def drive(workers, mode, seconds, members):
    if mode == "echo":
        return await load.echo_round_trips(workers[0].url, 32, seconds, warmup=0.5)
    if mode == "handshakes":
        return await load.handshakes(workers[0].url, 16, seconds)
    if mode == "chat":
        urls = [
            workers[number % 2].url_for(f"/ws/chat/?name=m{number}")
            for number in range(members)
        ]
        return await load.chat_room(urls, seconds, offered=200)
    urls = [workers[number % 2].url_for("/ws/echo/bench/") for number in range(members)]
    return await load.fan_out(urls, 10**6, seconds, offered=2000)


def start(target, mode):
    """The servers for ``mode``: one, or two workers and their Redis."""
    if mode not in ("fanout", "chat"):
        return [target().start()], []
    redis = targets.redis_server().start()
    settings = {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
    if mode == "chat":
        settings["DATABASE_URL"] = chat_database()
    workers = [target(cores=(core,), **settings).start() for core in (0, 1)]
    return workers, [redis]


def chat_database():
    database = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tempfile.mkdtemp(prefix='bench-chat-')}/chat.sqlite3"
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=targets.REPOSITORY,
        env=targets.environment(DATABASE_URL=database),
        check=True,
    )
    return database


TARGETS = {
    "ours": targets.ours,
    "ours-granian": targets.ours_on_granian,
    "ours-picows": targets.ours_on_picows,
    "stock": targets.stock_channels,
}


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--target", choices=sorted(TARGETS), default="ours")
    parser.add_argument(
        "--load", choices=("echo", "handshakes", "fanout", "chat"), default="echo"
    )
    parser.add_argument("--members", type=int, default=1000, help="with fanout")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    args = parser.parse_args()

    os.sched_setaffinity(0, {targets.CLIENT_CORE})
    target = TARGETS[args.target]
    workers, helpers = start(target, args.load)
    collapsed = tempfile.NamedTemporaryFile(suffix=".txt", delete=False).name
    pid = workers[0].processes()[-1].pid
    spy = subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--format",
            "raw",
            "--output",
            collapsed,
            "--pid",
            str(pid),
            "--duration",
            str(int(args.seconds)),
            "--rate",
            str(args.rate),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        figures = uvloop.run(drive(workers, args.load, args.seconds - 1, args.members))
        spy.wait(timeout=60)
    finally:
        for server in [*workers, *helpers]:
            server.stop()
    samples, by_self, by_total = top_functions(collapsed, args.top)
    print(f"{workers[0].target.name}, {args.load} load: {figures}")
    print(f"\nself time ({samples} samples)")
    for name, weight in by_self:
        print(f"{weight / samples:6.1%}  {name}")
    print("\ntotal time")
    for name, weight in by_total:
        print(f"{weight / samples:6.1%}  {name}")


if __name__ == "__main__":
    main()
