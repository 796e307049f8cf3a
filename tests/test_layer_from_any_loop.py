"""The inbox layer used from outside the server: sends from any event loop and
any thread, receiving bound to one loop, and a way to close it. Each case runs
in a real subprocess against real Redis, with a timeout."""

import json
import subprocess
import sys

import pytest
import redis

from tests import servers

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]


def run(module, *args, redis_url, timeout=60):
    env = servers.service_environment(REDIS_URL=redis_url)
    result = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-m", module, *args],
        cwd=servers.REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "unclosed" not in result.stderr.lower(), result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["group_send", "send"])
def test_three_thousand_sync_sends_never_hang_and_hold_few_connections(redis_url, mode):
    # A connection leaked per send shows within the first hundred; 3,000 also
    # outlast the pool's and the publisher thread's warm-up.
    report = run("tests.scripts.publish_from_sync", mode, "3000", redis_url=redis_url)
    assert report["most_redis_connections"] <= 4
    assert report["descriptors"] < 64
    assert report["redis_connections_after_close"] == 0


def test_sends_from_a_plain_process_start_no_reader_and_no_inbox(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    run("tests.scripts.publish_from_sync", "group_send", "50", redis_url=redis_url)
    assert client.keys("echo:inbox:*") == []
    assert not [c for c in client.client_list() if c.get("cmd") == "blmpop"]


def test_loops_in_turn_each_receive_and_a_second_running_loop_is_told_the_rule(
    redis_url,
):
    report = run("tests.scripts.loops_in_turn", redis_url=redis_url)
    assert report["turns"] == [0, 1, 2]
    assert report["second_loop_error"].startswith(
        "RedisInboxChannelLayer receives on one event loop"
    )
