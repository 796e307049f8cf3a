"""The storm mode: the worker holding N connections is killed, a new one starts
on its port, and every client comes back by a reconnection rule.

Three rules, one after the other on a fresh worker each:

- ``jittered``: the client libraries' rule (``clients.chat.retry_delay``,
  and ``retryDelay`` in chat-client.js): the first attempt after a random
  0.25 to 0.5 s, each failure doubling the delay up to 30 s, each pause a
  random point in the second half of the delay;
- ``in step``: the same delays without the jitter, as a client that sleeps a
  fixed back-off would;
- ``full jitter``: anywhere from 0 to the delay, for comparison.

Figures: seconds from the kill until every client is back; the busiest
100 ms of attempts to connect, as a rate (how much arrives at once: what
jitter is for); the busiest second of completed handshakes and the mean rate
from the first return to the last (what the worker sustained); and how many
attempts failed (refused while the new worker started, or timed out in a full
backlog). Handshakes are binned by the second: the one client process reads
many answers in one turn of its loop, which makes finer bins show its own
batching.
"""

import asyncio
import random
import signal
import time
from collections import Counter

from picows import WSListener, ws_connect

from bench import load
from bench.connections import (
    Crowd,
    descriptor_budget,
    open_crowd,
    source_address,
    worker_target,
)
from clients.chat import retry_ceiling, retry_delay

# Each rule: the pause before attempt N (0 first), spread over the same delays.
RULES = {
    "jittered": retry_delay,
    "in step": lambda attempt: retry_ceiling(attempt) * 0.75,  # the jittered mean
    # AWS's "full jitter": anywhere in the whole delay, for comparison.
    "full jitter": lambda attempt: random.uniform(0, retry_ceiling(attempt)),
}
HANDSHAKE_SECONDS = 10
STORM_SECONDS = 600
# Descriptors beside the connections: every client retrying at once holds a
# socket for each attempt in flight. With 1,000 spare, 19,000 clients on a
# 20,000 cap were not all back within STORM_SECONDS; with 5,000, 15,000 were.
ATTEMPTS_SPARE = 5000
ATTEMPT_BIN_SECONDS = 0.1
HANDSHAKE_BIN_SECONDS = 1.0


class Storm:
    def __init__(self, count):
        self.count = count
        self.back = []
        self.attempts = []
        self.failed = 0
        self.all_back = asyncio.Event()

    def returned(self):
        self.back.append(time.perf_counter())
        if len(self.back) == self.count:
            self.all_back.set()


class Quiet(WSListener):
    """A connection that only waits; the server's pings are answered by picows."""


async def come_back(url, number, rule, storm):
    attempt = 0
    while True:
        await asyncio.sleep(rule(attempt))
        storm.attempts.append(time.perf_counter())
        try:
            connected = await asyncio.wait_for(
                ws_connect(
                    Quiet,
                    url,
                    extra_headers=load.ORIGIN,
                    read_buffer_init_size=512,
                    local_addr=(source_address(number), 0),
                ),
                HANDSHAKE_SECONDS,
            )
        except Exception:  # noqa: BLE001 - refused, timed out, or turned away
            storm.failed += 1
            attempt += 1
            continue
        storm.returned()
        return connected


async def one_storm(plan, rule_name, count):
    target = worker_target(count)
    server = target.start()
    port = server.port
    returned = []
    try:
        url = server.url_for("/ws/echo/")
        pairs, _ = await open_crowd(url, count, Crowd())
        await asyncio.sleep(plan.settle)
        storm = Storm(count)
        killed = time.perf_counter()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        await asyncio.gather(*(transport.wait_disconnected() for transport, _ in pairs))
        rule = RULES[rule_name]
        coming = [
            asyncio.create_task(come_back(url, number, rule, storm))
            for number in range(count)
        ]
        server = await asyncio.to_thread(target.start, port)
        await asyncio.wait_for(storm.all_back.wait(), STORM_SECONDS)
        returned = [await task for task in coming]
    finally:
        for transport, _ in returned:
            transport.disconnect()
        server.stop()
    first, last = min(storm.back), max(storm.back)
    return {
        "target": f"ours, {rule_name}",
        "connections": count,
        "all_back_s": last - killed,
        "peak_attempts_per_s": busiest(storm.attempts, ATTEMPT_BIN_SECONDS),
        "peak_handshakes_per_s": busiest(storm.back, HANDSHAKE_BIN_SECONDS),
        "mean_handshakes_per_s": count / max(last - first, HANDSHAKE_BIN_SECONDS),
        "failed_attempts": storm.failed,
    }


def busiest(moments, width):
    """The most moments in one bin of ``width`` seconds, as a rate."""
    return max(Counter(int(moment / width) for moment in moments).values()) / width


async def measure_storm(plan):
    count = descriptor_budget(plan.storm_crowd, ATTEMPTS_SPARE)
    # A quick run shows the mode works: the documented rule is enough.
    rules = ["jittered"] if plan.quick else list(RULES)
    return [await one_storm(plan, rule, count) for rule in rules]
