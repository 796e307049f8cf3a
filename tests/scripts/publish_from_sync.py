"""Application code outside the server: a plain process that publishes through
the channel layer with async_to_sync, as Channels' docs show, then reports what
it holds. Run by tests/test_layer_from_any_loop.py with a timeout.

    python -m tests.scripts.publish_from_sync MODE COUNT
"""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

import psutil  # noqa: E402
from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings  # noqa: E402

REDIS_PORT = int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0])


def redis_connections():
    return sum(
        1
        for connection in psutil.Process().net_connections("tcp")
        if connection.raddr and connection.raddr.port == REDIS_PORT
    )


def main(mode, count):
    layer = get_channel_layer()
    send = async_to_sync(layer.send if mode == "send" else layer.group_send)
    target = "somebody.w0!1" if mode == "send" else "app-group"
    started = time.perf_counter()
    most = 0
    for number in range(count):
        send(target, {"type": "app.event", "number": number})
        if number % 500 == 0:
            most = max(most, redis_connections())
    seconds = time.perf_counter() - started
    report = {
        "per_second": count / seconds,
        "most_redis_connections": max(most, redis_connections()),
        "descriptors": psutil.Process().num_fds(),
    }
    if hasattr(layer, "close_pools"):
        async_to_sync(layer.close_pools)()
        report["redis_connections_after_close"] = redis_connections()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
