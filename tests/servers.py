"""Real servers for the tests: daphne and redis-server as subprocesses on loopback."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
DAPHNE = str(Path(sys.executable).with_name("daphne"))
STARTUP_SECONDS = 30


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds=STARTUP_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {seconds}s")


class Server:
    """A subprocess that listens on a loopback port, with its output in a file."""

    def __init__(self, args, port, log_path, env=None, pass_fds=()):
        self.port = port
        self.log_path = Path(log_path)
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            cwd=REPOSITORY,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
        )
        try:
            wait_for_port(port, self.process)
        except BaseException:
            self.stop()
            raise

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def redis_server_command(port):
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run scripts/test")
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]


def start_redis(log_dir, port=None):
    port = port or free_port()
    return Server(redis_server_command(port), port, Path(log_dir) / f"redis-{port}.log")


def service_environment(**overrides):
    """The environment a daphne subprocess runs with: DEBUG off, real settings."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("REDIS_URL", None)
    env.update({name: value for name, value in overrides.items() if value is not None})
    return env


def start_daphne(log_dir, env, port=None, extra_args=()):
    port = port or free_port()
    args = [DAPHNE, "-b", "127.0.0.1", "-p", str(port), *extra_args]
    args.append("project.asgi:application")
    return Server(args, port, Path(log_dir) / f"daphne-{port}.log", env=env)
