"""The service's metrics, in Prometheus's text format at ``/metrics``.

prometheus_client does the work. With several workers (``manage.py serve
--workers N`` sets PROMETHEUS_MULTIPROC_DIR for them), each process writes its
figures to a file there and ``/metrics`` sums every worker's, whichever worker
answers. Counting stays off the per-member path: a group message delivered to
a worker's members is counted once, with their number.

``/metrics`` answers only a request with ``Authorization: Bearer
<METRICS_TOKEN>`` or, with no token set, one from the loopback address, since
the figures tell an outsider how busy the service is.
"""

import hmac
import os

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LOOPBACK = ("127.0.0.1", "::1")

OPEN_CONNECTIONS = Gauge(
    "websocket_connections_open",
    "WebSocket connections open (handshakes under way included)",
    multiprocess_mode="livesum",
)
MESSAGES_RECEIVED = Counter(
    "websocket_messages_received", "WebSocket messages received from clients"
)
MESSAGES_SENT = Counter(
    "websocket_messages_sent", "WebSocket messages sent to clients, group ones too"
)
REJECTIONS = Counter(
    "websocket_rejections",
    "Handshakes refused and messages or connections cut off by a limit",
    ["reason"],
)
GROUP_SENDS = Counter("group_sends", "Messages sent to a group")
REDIS_ERRORS = Counter(
    "redis_errors", "Redis operations of the channel layer that failed"
)
DATABASE_ERRORS = Counter(
    "database_errors", "Chat messages the database could not store"
)
FANOUT_SECONDS = Histogram(
    "group_delivery_seconds",
    "From group_send to the worker handing the message to its members",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def metrics(request):
    if not allowed(request):
        return HttpResponseForbidden("metrics are not public\n")
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def allowed(request):
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in LOOPBACK
