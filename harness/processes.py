"""Servers as subprocesses on loopback: started, waited for, measured, stopped.

The one helper behind the benchmark's targets (bench/targets.py) and the test
suite's real servers (tests/servers.py).
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import psutil

REPOSITORY = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30
STOP_SECONDS = 10


def django_environment(secret_key, **overrides):
    """The environment a process of this project runs with: its real settings,
    DEBUG off, and no REDIS_URL inherited from the caller; an override of None
    leaves a variable out."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "SECRET_KEY": secret_key,
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("REDIS_URL", None)
    env.update({name: value for name, value in overrides.items() if value is not None})
    return env


def free_port():
    return free_ports(1)[0]


def free_ports(count):
    """``count`` different ports free on loopback now: each probe stays bound
    until all are chosen, so that none is chosen twice."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class ServerProcess:
    """A command that listens on ``port``, run from the repository.

    Its output goes to ``log_path`` (or nowhere); ``cores`` pins it with taskset.
    The constructor returns once the port accepts connections, and fails if the
    process exits first or nothing listens within STARTUP_SECONDS.
    """

    def __init__(
        self, args, port, *, env=None, log_path=None, cores=None, pass_fds=(), name=None
    ):
        self.port = port
        self.name = name or Path(args[0]).name
        self.log_path = Path(log_path) if log_path else None
        self.log_file = open(self.log_path, "wb") if log_path else None  # noqa: SIM115
        if cores:
            args = ["taskset", "-c", ",".join(str(core) for core in cores), *args]
        self.process = subprocess.Popen(
            args,
            cwd=REPOSITORY,
            env=env,
            stdout=self.log_file or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.log_file else None,
            pass_fds=pass_fds,
        )
        try:
            self.wait_until_listening()
        except BaseException:
            self.stop()
            raise

    def wait_until_listening(self, seconds=STARTUP_SECONDS):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(
            f"{self.name}: nothing listened on {self.port} in {seconds} s"
        )

    @property
    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def url_for(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def processes(self):
        """The process started and any workers it started."""
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
        """SIGTERM, then SIGKILL after STOP_SECONDS; workers the process
        started and left behind are killed too (a granian worker whose master
        was killed lives on, holding its port and its core)."""
        workers = []
        if self.process.poll() is None:
            try:
                workers = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for worker in workers:
            try:
                worker.kill()
            except psutil.NoSuchProcess:
                pass
        if self.log_file:
            self.log_file.close()
