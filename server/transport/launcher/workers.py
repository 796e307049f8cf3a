"""Run N daphne worker processes behind one address.

The launcher binds one listening socket per worker, all on the same port with
SO_REUSEPORT, and hands each worker its own with ``daphne --fd``. The kernel
then spreads new connections evenly over the workers; with one shared socket,
whichever worker wakes first takes most of them.

Rule: the launcher owns the sockets and the children. A worker that dies is
started again on its socket; SIGTERM or SIGINT stops them all.

The workers share a directory for their metrics (PROMETHEUS_MULTIPROC_DIR,
server/operations/metrics.py), one the launcher makes unless it is set, so that
``/metrics`` on any of them sums all of them.
"""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client import multiprocess

logger = logging.getLogger(__name__)

APPLICATION = "project.asgi:application"
# daphne's own command line, on uvloop (run_daphne.py).
DAPHNE = [sys.executable, "-m", "server.transport.launcher.run_daphne"]
# How many not-yet-accepted connections each socket may queue; Linux caps it
# at net.core.somaxconn.
LISTEN_BACKLOG = 2048
# A worker that exits with an error sooner than this after starting is failing
# at start-up (bad settings, say); restarting it would only loop. One killed by
# a signal is restarted whenever it dies.
MINIMUM_WORKER_LIFETIME_SECONDS = 5
STOP_SECONDS = 10


def daphne_command(binding, daphne_args=()):
    """A worker's command line; ``binding`` is ``endpoint(...)`` or ``--fd N``."""
    return [*DAPHNE, *binding, *daphne_args, APPLICATION]


def endpoint(host, port):
    """daphne's ``-e`` for listening on ``host:port`` with LISTEN_BACKLOG: its
    ``-b``/``-p`` leave Twisted's backlog of 50, and 256 clients opening at once
    then met handshake timeouts (7,584 of 10,000 opened; all with 2,048)."""
    interface = host.strip("[]").replace(":", "\\:")
    return ["-e", f"tcp:port={port}:interface={interface}:backlog={LISTEN_BACKLOG}"]


def listening_sockets(host, port, count):
    """``count`` sockets listening on one address; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for _ in range(count):
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(LISTEN_BACKLOG)
        port = listener.getsockname()[1]
        sockets.append(listener)
    return sockets


class Workers:
    def __init__(self, host, port, count, daphne_args=()):
        self.metrics_dir = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.metrics_dir = tempfile.mkdtemp(prefix="echo-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        self.sockets = listening_sockets(host, port, count)
        self.port = self.sockets[0].getsockname()[1]
        self.daphne_args = list(daphne_args)
        self.children = [self.start(listener) for listener in self.sockets]
        self.stopping = False

    def start(self, listener):
        fd = listener.fileno()
        command = daphne_command(["--fd", str(fd)], self.daphne_args)
        child = subprocess.Popen(command, pass_fds=[fd])
        child.started_at = time.monotonic()
        return child

    def run(self):
        """Supervise until told to stop; returns the exit status."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        logger.info("%d daphne workers on port %d", len(self.children), self.port)
        while not self.stopping:
            for index, child in enumerate(self.children):
                if child.poll() is None:
                    continue
                lived = time.monotonic() - child.started_at
                if child.returncode > 0 and lived < MINIMUM_WORKER_LIFETIME_SECONDS:
                    logger.error("worker exited with %s at start-up", child.returncode)
                    self.stop()
                    return child.returncode or 1
                logger.warning("worker exited with %s; restarting", child.returncode)
                multiprocess.mark_process_dead(child.pid)
                self.children[index] = self.start(self.sockets[index])
            time.sleep(0.2)
        self.stop()
        return 0

    def request_stop(self, signum, frame):
        self.stopping = True

    def stop(self):
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for listener in self.sockets:
            listener.close()
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
