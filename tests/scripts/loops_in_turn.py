"""One layer, several event loops: receive on one loop, then on another after
the first closed; then try to receive on a second loop while the first runs.

    python -m tests.scripts.loops_in_turn
"""

import asyncio
import json
import os
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from channels.layers import get_channel_layer  # noqa: E402


async def round_trip(layer, number):
    channel = await layer.new_channel()
    await layer.group_add("turns", channel)
    await layer.group_send("turns", {"type": "turn", "number": number})
    received = await asyncio.wait_for(layer.receive(channel), 5)
    # The documented way to end a loop's use of the layer.
    await layer.close_pools()
    return received["number"]


def receive_while_another_loop_runs(layer):
    """The answer of a second loop that tries to receive while the first waits."""
    answer = {}
    started = threading.Event()

    async def waiting():
        channel = await layer.new_channel()
        started.set()
        try:
            await asyncio.wait_for(layer.receive(channel), 3)
        except TimeoutError:
            pass
        await layer.close_pools()

    first = threading.Thread(target=asyncio.run, args=(waiting(),))
    first.start()
    started.wait(5)
    try:
        asyncio.run(layer.new_channel())
        answer["error"] = None
    except RuntimeError as error:
        answer["error"] = str(error)
    first.join()
    return answer["error"]


def main():
    layer = get_channel_layer()
    turns = [asyncio.run(round_trip(layer, number)) for number in range(3)]
    error = receive_while_another_loop_runs(layer)
    print(json.dumps({"turns": turns, "second_loop_error": error}), flush=True)


if __name__ == "__main__":
    main()
