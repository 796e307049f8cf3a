"""Health endpoints for the proxy, the orchestrator and the operator.

``/healthz``: the process is up and serving HTTP. ``/readyz``: it can do its
work, that is the database answers and, when the channel layer is on Redis,
every Redis host answers (on a Redis Cluster, every master); 503 naming what
failed otherwise. The compose file's healthcheck asks ``/readyz`` through
``python -m server.operations.probe``.
"""

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from server.extensions import redis_connections

# A check that takes longer than this has failed: a probe must answer quickly.
CHECK_SECONDS = 2


def healthz(request):
    return JsonResponse({"status": "ok"})


async def readyz(request):
    checks = {"database": database_answers()}
    hosts = redis_connections.layer_hosts()
    if hosts:
        checks["redis"] = redis_answers(hosts)
    results = {}
    for name, check in checks.items():
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                await check
            results[name] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            results[name] = f"failed: {type(error).__name__}"
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **results},
        status=200 if ready else 503,
    )


@sync_to_async(thread_sensitive=True)
def database_answers():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close_if_unusable_or_obsolete()


async def redis_answers(hosts):
    """Every host answers; on a cluster, every master."""
    for host in hosts:
        client = redis_connections.client(host)
        if redis_connections.is_cluster(host):
            await client.ping(target_nodes=client.PRIMARIES)
        else:
            await client.ping()
