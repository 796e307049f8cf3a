"""``python -m bench.publish_sync SECONDS``: application code in a plain
process publishing through the channel layer the way Channels' docs show,
``async_to_sync(layer.group_send)``, for SECONDS; prints publishes a second.
REDIS_URL and REDIS_CHANNEL_LAYER choose the layer."""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402


def main(seconds):
    layer = get_channel_layer()
    group_send = async_to_sync(layer.group_send)
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        group_send(
            "bench-publish", {"type": "realtime.send", "text": "x", "bytes": None}
        )
        sent += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"publishes": sent, "per_second": sent / elapsed}), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))
