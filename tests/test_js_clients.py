"""The JavaScript client library (clients/js/): its declarations compile, it
is small, and node's own test runner drives it against the real service
through a killed worker and a Redis failover (clients/js/test/)."""

import gzip
import os
import shutil
import signal
import subprocess

import pytest
import redis

from harness.redis_topologies import Sentinels
from tests.servers import REPOSITORY

pytestmark = [pytest.mark.server, pytest.mark.once]

LIBRARY = REPOSITORY / "clients" / "js"
BIN = LIBRARY / "node_modules" / ".bin"
# The goal for the chat client, minified and gzipped (docs/clients.md).
CHAT_CLIENT_BUDGET_BYTES = 8 * 1024
NODE_SECONDS = 120


def node_test(name, **env):
    """Run one test of clients/js/test/failures.test.mjs by name; its output."""
    result = subprocess.run(
        [
            shutil.which("node"),
            "--experimental-websocket",
            "--no-warnings",
            "--test",
            f"--test-name-pattern={name}",
            "test/failures.test.mjs",
        ],
        cwd=LIBRARY,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=NODE_SECONDS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 1" in result.stdout, result.stdout
    return result.stdout


def chat_workers(start_daphne, redis_url):
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    return [start_daphne(**settings) for _ in range(2)]


def urls(workers):
    return ",".join(worker.url_for("/ws/chat/") for worker in workers)


def test_the_type_declarations_compile_and_reject_misuse():
    subprocess.run(
        [BIN / "tsc", "-p", "tsconfig.json"], cwd=LIBRARY, check=True, timeout=120
    )


def test_the_chat_client_is_under_8_kb_minified_and_gzipped():
    minified = subprocess.run(
        [BIN / "terser", "src/chat-client.js", "--module", "-c", "-m"],
        cwd=LIBRARY,
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    assert len(gzip.compress(minified, 9)) < CHAT_CLIENT_BUDGET_BYTES


def test_a_killed_workers_clients_resume_and_lose_nothing(start_daphne, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    workers = chat_workers(start_daphne, redis_url)
    node_test(
        "a killed worker",
        CHAT_WORKERS=urls(workers),
        KILL_PID=str(workers[0].process.pid),
    )
    assert workers[0].process.wait(timeout=10) == -signal.SIGKILL


@pytest.fixture
def sentinels(logs_dir):
    topology = Sentinels(logs_dir)
    yield topology
    topology.stop()


def test_a_redis_failover_is_ridden_out_and_loses_nothing(start_daphne, sentinels):
    workers = chat_workers(start_daphne, sentinels.url)
    node_test(
        "a Redis failover",
        CHAT_WORKERS=urls(workers),
        REDIS_MASTER_PID=str(sentinels.master.process.pid),
    )
