"""The harness that runs every real server of the suite and the benchmark."""

import sys
import textwrap

import psutil
import pytest

from harness.processes import ServerProcess, free_port

pytestmark = [pytest.mark.once]

# A master that listens, starts a worker that shrugs off SIGTERM, and exits
# at SIGTERM without waiting for it: what a granian master killed mid-stop
# leaves behind.
MASTER_LEAVING_ITS_WORKER = textwrap.dedent(
    """
    import os, signal, socket, sys, time
    listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(1)
    """
)


def test_stopping_a_server_also_ends_the_workers_its_master_left_behind():
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-c", MASTER_LEAVING_ITS_WORKER, str(port)], port
    )
    (worker,) = psutil.Process(server.process.pid).children()
    server.stop()
    worker.wait(timeout=10)
    assert not worker.is_running()
