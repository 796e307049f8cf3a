"""The servers under test, each started as a subprocess on loopback."""

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.processes import REPOSITORY, ServerProcess, django_environment, free_port
from harness.redis_topologies import Cluster, Sentinels
from server.transport.launcher.workers import daphne_command, endpoint

__all__ = ["REPOSITORY", "Running", "Target"]

BIN = Path(sys.executable).parent
SERVER_CORE = 0
CLIENT_CORE = 1


def environment(**overrides):
    settings = {
        # Per-message INFO logging is a feature to turn off under load;
        # docs/benchmarks.md gives its cost.
        "LOG_LEVEL": "WARNING",
        # A rate per connection or API key is policy; the benchmark measures
        # what a worker can do, with one client sending as fast as it can.
        "ECHO_RATE_PER_SECOND": "0",
        "CHAT_RATE_PER_SECOND": "0",
        "API_RATE_PER_SECOND": "0",
        # Every benchmark client comes from 127.0.0.1.
        "WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS": "100000",
    }
    return django_environment("benchmark-only-secret-key", **{**settings, **overrides})


def own_database(name):
    """A fresh database of its own for a mode that alters the schema: on the
    PostgreSQL server of DATABASE_URL, ``<its name>_<name>``, made anew; else
    a fresh SQLite file. Migrated."""
    database = os.environ.get("DATABASE_URL")
    if database and database.startswith(("postgres://", "postgresql://")):
        import psycopg

        base, _, own = database.rpartition("/")
        own = f"{own.split('?')[0]}_{name}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{own}"')
            admin.execute(f'CREATE DATABASE "{own}"')
        database = f"{base}/{own}"
    else:
        database = fresh_sqlite(name)
    return migrated_database(name, database)


def fresh_sqlite(name):
    return f"sqlite:///{tempfile.mkdtemp(prefix=f'bench-{name}-')}/{name}.sqlite3"


def migrated_database(name, database=None):
    """``database``, else DATABASE_URL (PostgreSQL for README's figures), else
    a fresh SQLite file named after ``name``; migrated."""
    database = database or os.environ.get("DATABASE_URL") or fresh_sqlite(name)
    migrate = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    env = environment(DATABASE_URL=database)
    subprocess.run(migrate, cwd=REPOSITORY, env=env, check=True)
    return database


@dataclass
class Target:
    """How to start one server; ``{port}`` in the command is filled in."""

    name: str
    command: list
    env: dict = field(default_factory=environment)
    path: str = "/ws/echo/"
    cores: tuple = (SERVER_CORE,)
    # How the load generator treats it: whether its clients offer
    # permessage-deflate, and whether the idle ones first exchange a message.
    deflate: bool = False
    exchange: bool = False

    def start(self, port=None):
        return Running(self, port or free_port())


class Running(ServerProcess):
    """A target's server, pinned to its cores, its output on the terminal."""

    def __init__(self, target, port):
        self.target = target
        command = [part.format(port=port) for part in target.command]
        super().__init__(
            command, port, env=target.env, cores=target.cores, name=target.name
        )

    @property
    def url(self):
        return self.url_for(self.target.path)


def ours(workers=1, cores=(SERVER_CORE,), **settings):
    """This project, started the documented way: ``manage.py serve``, or for
    one worker the daphne command it would exec (``serve`` first sets Django
    up only to build that line, which doubled the start-up time)."""
    if workers == 1:
        command = daphne_command(endpoint("127.0.0.1", "{port}"))
    else:
        command = [
            str(BIN / "python"),
            "manage.py",
            "serve",
            "--host=127.0.0.1",
            "--port={port}",
            f"--workers={workers}",
        ]
    return Target(
        f"ours ({workers} worker{'s' if workers > 1 else ''})",
        command,
        env=environment(**settings),
        cores=cores,
    )


def ours_exchanging(deflate):
    """Ours with clients that offer permessage-deflate and, for the memory
    figures, first exchange a message: compressed when ``deflate`` is on."""
    target = ours(WEBSOCKET_PERMESSAGE_DEFLATE="1" if deflate else "0")
    target.name = (
        "ours, permessage-deflate" if deflate else "ours, deflate offered, off"
    )
    target.deflate = target.exchange = True
    return target


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


def on_granian(application, name, cores=(SERVER_CORE,), **settings):
    """``application`` on granian (Rust, ASGI), one worker, its default loop."""
    return Target(
        name,
        [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
            application,
        ],
        env=environment(**settings),
        cores=cores,
    )


def ours_on_granian(cores=(SERVER_CORE,), **settings):
    return on_granian("project.asgi:application", "ours on granian", cores, **settings)


def stock_on_granian(cores=(SERVER_CORE,), **settings):
    return on_granian(
        "bench.stock_asgi:application", "stock Channels on granian", cores, **settings
    )


def webrockets(cores=(SERVER_CORE,), REDIS_URL="", **settings):
    """webrockets' echo and group routes; across processes through REDIS_URL."""
    command = [str(BIN / "python"), "-m", "bench.webrockets_server"]
    return Target(
        "webrockets",
        [*command, "--port", "{port}", "--redis", REDIS_URL],
        cores=cores,
    )


def picows_echo():
    return Target(
        "picows + uvloop",
        [str(BIN / "python"), "-m", "bench.picows_echo", "--port", "{port}"],
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


def redis_cluster():
    """Three masters with a replica each, on the core the single Redis uses."""
    return Cluster(tempfile.mkdtemp(prefix="bench-cluster-"), cores=(CLIENT_CORE,))


def redis_sentinels():
    return Sentinels(tempfile.mkdtemp(prefix="bench-sentinel-"))


def ours_on_picows(cores=(SERVER_CORE,), **settings):
    """Our WebSocket routes on picows: a ceiling (bench/picows_asgi.py)."""
    return Target(
        "ours on picows (a ceiling)",
        [str(BIN / "python"), "-m", "bench.picows_asgi", "--port", "{port}"],
        env=environment(**settings),
        cores=cores,
    )
