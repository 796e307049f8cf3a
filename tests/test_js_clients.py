"""The JavaScript client library (clients/js/): its declarations compile, it
is small, and node's own test runner drives it against the real service
(clients/js/test/): through a killed worker and a Redis failover, the echo
client, and the React-style example of docs/examples/."""

import gzip
import os
import shutil
import signal
import subprocess

import pytest
import redis

from tests.servers import REPOSITORY

pytestmark = [pytest.mark.server, pytest.mark.once]

LIBRARY = REPOSITORY / "clients" / "js"
BIN = LIBRARY / "node_modules" / ".bin"
# The goal for the chat client, minified and gzipped (docs/clients.md).
CHAT_CLIENT_BUDGET_BYTES = 8 * 1024
NODE_SECONDS = 120


def node_test(*arguments, passed=1, **env):
    """Run node's test runner on clients/js/test/ files; its output."""
    result = subprocess.run(
        [
            shutil.which("node"),
            "--experimental-websocket",
            "--no-warnings",
            "--test",
            *arguments,
        ],
        cwd=LIBRARY,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=NODE_SECONDS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"# pass {passed}\n" in result.stdout, result.stdout
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


def test_the_client_rules_hold_on_a_connection_the_test_plays_the_server_of():
    node_test("test/rules.test.mjs", passed=14)


def test_the_example_and_the_echo_client_work_against_the_service(echo_server):
    node_test(
        "test/example.test.mjs",
        "test/echo.test.mjs",
        passed=3,
        CHAT_WORKERS=echo_server.url_for("/ws/chat/"),
        ECHO_URL=echo_server.url_for("/ws/echo/"),
    )


def test_a_killed_workers_clients_resume_and_lose_nothing(start_daphne, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    workers = chat_workers(start_daphne, redis_url)
    node_test(
        "--test-name-pattern=a killed worker",
        "test/failures.test.mjs",
        CHAT_WORKERS=urls(workers),
        KILL_PID=str(workers[0].process.pid),
    )
    assert workers[0].process.wait(timeout=10) == -signal.SIGKILL


def test_a_redis_failover_is_ridden_out_and_loses_nothing(start_daphne, sentinels):
    workers = chat_workers(start_daphne, sentinels.url)
    node_test(
        "--test-name-pattern=a Redis failover",
        "test/failures.test.mjs",
        CHAT_WORKERS=urls(workers),
        REDIS_MASTER_PID=str(sentinels.master.process.pid),
    )


def test_the_page_leaves_every_protocol_rule_to_the_library():
    page = (REPOSITORY / "chat" / "static" / "chat" / "chat.js").read_text()
    for rule in ('"join"', '"history"', "since", "new WebSocket", "JSON.stringify"):
        assert rule not in page, rule
