"""``python -m bench.publish_sync HOW SECONDS``: application code in a plain
process publishing to a group for SECONDS; prints publishes a second.

HOW is ``async_to_sync``, the way Channels' docs show
(``async_to_sync(layer.group_send)``), or ``publish``, the project's own sync
form (``realtime.publish.send_to_group``). REDIS_URL and REDIS_CHANNEL_LAYER
choose the layer.
"""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402

from realtime import publish  # noqa: E402

GROUP = "bench-publish"


def sender(how):
    if how == "publish":
        return lambda: publish.send_to_group(GROUP, "x")
    group_send = async_to_sync(get_channel_layer().group_send)
    event = {"type": "realtime.send", "text": "x", "bytes": None}
    return lambda: group_send(GROUP, event)


def main(how, seconds):
    send = sender(how)
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        send()
        sent += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"publishes": sent, "per_second": sent / elapsed}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
