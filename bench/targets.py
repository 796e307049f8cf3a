"""The servers under test, each started as a subprocess on loopback."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPOSITORY = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_CORE = 0
CLIENT_CORE = 1


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(**overrides):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "SECRET_KEY": "benchmark-only-secret-key",
            "DEBUG": "0",
            # Per-message INFO logging is a feature to turn off under load;
            # README gives its cost.
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


@dataclass
class Target:
    """How to start one server; ``{port}`` in the command is filled in."""

    name: str
    command: list
    env: dict = field(default_factory=environment)
    path: str = "/ws/echo/"
    cores: tuple = (SERVER_CORE,)

    def start(self, port=None):
        return Running(self, port or free_port())


class Running:
    def __init__(self, target, port):
        self.target = target
        self.port = port
        command = [part.format(port=port) for part in target.command]
        cores = ",".join(str(core) for core in target.cores)
        self.process = subprocess.Popen(
            ["taskset", "-c", cores, *command],
            cwd=REPOSITORY,
            env=target.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if os.environ.get("BENCH_DEBUG") else None,
        )
        self._wait_until_listening()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}{self.target.path}"

    def url_for(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def _wait_until_listening(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.target.name} exited at start")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                time.sleep(0.3)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.target.name} did not listen on {self.port}")

    def processes(self):
        """The server's processes: the one started and any workers it started."""
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def memory(self):
        """Resident memory of all the server's processes, in bytes."""
        return sum(process.memory_info().rss for process in self.processes())

    def cpu_seconds(self):
        total = 0.0
        for process in self.processes():
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def ours(workers=1, cores=(SERVER_CORE,), **settings):
    """This project, started the documented way."""
    return Target(
        f"ours ({workers} worker{'s' if workers > 1 else ''})",
        [
            str(BIN / "python"),
            "manage.py",
            "serve",
            "--host=127.0.0.1",
            "--port={port}",
            f"--workers={workers}",
        ],
        env=environment(**settings),
        cores=cores,
    )


def stock_channels(cores=(SERVER_CORE,), **settings):
    return Target(
        "stock Channels on daphne",
        [
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            "{port}",
            "bench.stock_asgi:application",
        ],
        env=environment(**settings),
        cores=cores,
    )


def plain_websockets():
    return Target(
        "websockets + uvloop",
        [str(BIN / "python"), "-m", "bench.websockets_echo", "--port", "{port}"],
    )


def websockets_broadcast(cores=(SERVER_CORE,), REDIS_URL="", **settings):
    return Target(
        "websockets broadcast",
        [
            str(BIN / "python"),
            "-m",
            "bench.websockets_broadcast",
            "--port",
            "{port}",
            "--redis",
            REDIS_URL,
        ],
        cores=cores,
    )


def redis_server():
    return Target(
        "redis",
        ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", ""],
        cores=(CLIENT_CORE,),
    )
