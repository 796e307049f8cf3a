"""A group through an outage: what its members received until the server
closed them, and when delivery across two workers works again."""

import asyncio
import contextlib
import time

import websockets

PROBE_EVERY_SECONDS = 0.1
ARRIVAL_SECONDS = 1.0
# How long a probe's members must then stay connected and keep receiving:
# longer than the layer's pause between reads after a failure (0.5 s), so that
# a worker still failing its members on each read closes them first. Without
# it, groups on a cluster's surviving masters count as back in the fraction
# of a second before the next failed read.
HOLD_SECONDS = 2.0


async def live_across(near, far, give_up_seconds):
    """The ``time.perf_counter()`` moment a group message sent on ``near``
    first reaches a member on ``far`` again, for good: the two stay connected
    HOLD_SECONDS and a second message arrives too. A new group each attempt,
    tried every PROBE_EVERY_SECONDS; TimeoutError after ``give_up_seconds``."""
    deadline = time.perf_counter() + give_up_seconds
    attempt = 0
    while time.perf_counter() < deadline:
        attempt += 1
        path = f"/ws/echo/probe-{attempt}/"
        with contextlib.suppress(websockets.ConnectionClosed, TimeoutError, OSError):
            async with (
                websockets.connect(far.url_for(path)) as listener,
                websockets.connect(near.url_for(path)) as talker,
            ):
                await talker.send("probe")
                arrived = await asyncio.wait_for(listener.recv(), ARRIVAL_SECONDS)
                first = time.perf_counter()
                await asyncio.sleep(HOLD_SECONDS)
                await talker.send("still")
                still = await asyncio.wait_for(listener.recv(), ARRIVAL_SECONDS)
                if (arrived, still) == ("probe", "still"):
                    return first
        await asyncio.sleep(PROBE_EVERY_SECONDS)
    raise TimeoutError(f"no delivery across workers within {give_up_seconds} s")


async def stream_until_closed(member, sent, every_seconds):
    """Send numbered messages as ``member``, each added to ``sent``, until the
    server closes it."""
    with contextlib.suppress(websockets.ConnectionClosed):
        for number in range(1_000_000):
            await member.send(f"e{number}")
            sent.append(f"e{number}")
            await asyncio.sleep(every_seconds)


async def received_until_closed(member):
    """What ``member`` received until the server closed it, and the close code."""
    received = []
    with contextlib.suppress(websockets.ConnectionClosed):
        async for message in member:
            received.append(message)
    return received, member.close_code
