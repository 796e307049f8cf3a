"""The ``publish`` mode: the rest of the application reaching users.

- sync publishes a second from one plain process through ``async_to_sync``,
  our inbox layer against channels-redis's core layer, in the same run;
- HTTP API publishes a second on one worker (rate limit off), and the p99 of
  an API call at a fixed 200 a second;
- from an API call on one worker to delivery at a member on the other, p50 and
  p99, at that fixed rate.
"""

import asyncio
import contextlib
import json
import subprocess
import sys
import time

import websockets

from bench import load, targets

API_KEY = "bench-api-key"
API_CONCURRENCY = 16
FIXED_RATE = 200


async def sync_publishes(plan, redis_url, layer, how="async_to_sync"):
    seconds = 1.0 if plan.quick else 5.0
    env = targets.environment(REDIS_URL=redis_url, REDIS_CHANNEL_LAYER=layer)
    command = [sys.executable, "-m", "bench.publish_sync", how, str(seconds)]
    result = await asyncio.to_thread(
        subprocess.run,
        ["taskset", "-c", str(targets.SERVER_CORE), *command],
        cwd=targets.REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["per_second"]


class HttpClient:
    """One kept-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, port):
        self.port = port

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path, body):
        payload = json.dumps(body).encode()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self):
        self.writer.close()


async def api_saturated(port, seconds):
    clients = [HttpClient(port) for _ in range(API_CONCURRENCY)]
    for client in clients:
        await client.open()
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(client):
        nonlocal done
        while time.perf_counter() < deadline:
            assert await client.post("/api/groups/bench-api/send", {"data": 1}) == 202
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(client) for client in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return done / elapsed


async def api_at_fixed_rate(port, seconds, member=None, group="bench-api"):
    """Latencies of calls made FIXED_RATE a second; with ``member`` (a
    WebSocket in ``group``), also from each call to its delivery there."""
    clients = [HttpClient(port) for _ in range(API_CONCURRENCY)]
    for client in clients:
        await client.open()
    idle = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)
    calls, deliveries, sent_at = [], [], {}
    count = int(seconds * FIXED_RATE)
    all_delivered = asyncio.Event()

    async def receive():
        async for frame in member:
            number = json.loads(frame)["n"]
            deliveries.append(time.perf_counter() - sent_at.pop(number))
            if len(deliveries) == count:
                all_delivered.set()

    async def one(number):
        client = await idle.get()
        sent_at[number] = started = time.perf_counter()
        await client.post(f"/api/groups/{group}/send", {"data": {"n": number}})
        calls.append(time.perf_counter() - started)
        idle.put_nowait(client)

    receiving = asyncio.create_task(receive()) if member else None
    tasks = []
    begin = time.perf_counter()
    for number in range(count):
        await asyncio.sleep(max(0.0, begin + number / FIXED_RATE - time.perf_counter()))
        tasks.append(asyncio.create_task(one(number)))
    await asyncio.gather(*tasks)
    if receiving:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_delivered.wait(), 5)
        receiving.cancel()
    for client in clients:
        client.close()
    return calls, deliveries, len(sent_at)


async def measure_publish(plan):
    redis = targets.redis_server().start()
    redis_url = f"redis://127.0.0.1:{redis.port}/0"
    rows = []
    try:
        ours = await sync_publishes(plan, redis_url, "inbox")
        core = await sync_publishes(plan, redis_url, "core")
        module = await sync_publishes(plan, redis_url, "inbox", how="publish")
        rows.append(
            {
                "target": "sync publishes, inbox vs core",
                "ours_per_s": ours,
                "core_per_s": core,
                "ratio": ours / core,
                "publish_module_per_s": module,
                "publish_module_ratio": module / core,
            }
        )
        # targets.environment turns the API's rate limit off: capacity, not policy.
        settings = {"REDIS_URL": redis_url, "API_KEYS": API_KEY}
        workers = [
            targets.ours(cores=(core,), **settings).start()
            for core in (targets.SERVER_CORE, targets.CLIENT_CORE)
        ]
        try:
            seconds = 1.0 if plan.quick else 5.0
            with load.Clock(watch={"worker": workers[0]}) as clock:
                per_second = await api_saturated(workers[0].port, seconds)
            calls, _, _ = await api_at_fixed_rate(workers[0].port, seconds)
            url = workers[1].url_for("/ws/echo/bench-api-delivery/")
            async with websockets.connect(url) as member:
                _, deliveries, lost = await api_at_fixed_rate(
                    workers[0].port, seconds, member, "bench-api-delivery"
                )
            rows.append(
                {
                    "target": "HTTP API, one worker",
                    "publishes_per_s": per_second,
                    "worker_cores": clock.cores["worker_cores"],
                    "call_p99_ms_at_200": load.percentile(calls, 0.99) * 1000,
                    "delivery_p50_ms": load.percentile(deliveries, 0.5) * 1000,
                    "delivery_p99_ms": load.percentile(deliveries, 0.99) * 1000,
                    "lost": lost,
                }
            )
        finally:
            for worker in workers:
                worker.stop()
    finally:
        redis.stop()
    return rows
