"""Real servers for the tests: daphne and redis-server as subprocesses on loopback,
started with the helpers the benchmark uses too (harness/)."""

import subprocess
import sys
from pathlib import Path

from harness.processes import REPOSITORY, ServerProcess, django_environment, free_port
from harness.redis_topologies import start_server

__all__ = ["REPOSITORY", "free_port"]

DAPHNE = str(Path(sys.executable).with_name("daphne"))


def start(args, port, log_path, env=None, pass_fds=()):
    """A server subprocess whose output is kept in ``log_path``."""
    return ServerProcess(args, port, env=env, log_path=log_path, pass_fds=pass_fds)


def start_redis(log_dir, port=None):
    return start_server(log_dir, port=port)


def service_environment(**overrides):
    """The environment a daphne subprocess runs with: DEBUG off, real settings."""
    return django_environment("test-secret-key-not-for-production", **overrides)


def start_daphne(
    log_dir, env, port=None, extra_args=(), application="project.asgi:application"
):
    port = port or free_port()
    args = [DAPHNE, "-b", "127.0.0.1", "-p", str(port), *extra_args]
    args.append(application)
    return start(args, port, Path(log_dir) / f"daphne-{port}.log", env=env)


# ASGI servers besides daphne that run the application as it is (docs/transport.md,
# "Other ASGI servers"): the command each is started with.
OTHER_SERVERS = {
    "granian": lambda port, app: [
        str(Path(sys.executable).with_name("granian")),
        "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", app,
    ],
    "uvicorn": lambda port, app: [
        str(Path(sys.executable).with_name("uvicorn")),
        "--host", "127.0.0.1", "--port", str(port), app,
    ],
}  # fmt: skip


def start_other_server(kind, log_dir, env, application="project.asgi:application"):
    """``kind`` (granian or uvicorn) serving the application on a free port."""
    port = free_port()
    args = OTHER_SERVERS[kind](port, application)
    return start(args, port, Path(log_dir) / f"{kind}-{port}.log", env=env)


def refused_start(env):
    """The lines daphne printed when it refused to start with ``env``; fails
    if it started, or printed a traceback."""
    result = subprocess.run(
        [DAPHNE, "-p", str(free_port()), "project.asgi:application"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()


def start_launcher(log_path, env, workers=2):
    """``manage.py serve`` with several workers on a free port."""
    port = free_port()
    command = [sys.executable, "manage.py", "serve", "--port", str(port)]
    return start([*command, "--workers", str(workers)], port, log_path, env=env)
