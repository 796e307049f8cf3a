"""The service's metrics, in Prometheus's text format at ``/metrics``.

prometheus_client does the work. With several workers (``manage.py serve
--workers N`` sets PROMETHEUS_MULTIPROC_DIR for them), each process writes its
figures to a file there and ``/metrics`` sums every worker's, whichever worker
answers. Counting stays off the per-member path: a group message delivered to
a worker's members is counted once, with their number.

``/metrics`` answers only a request with ``Authorization: Bearer
<METRICS_TOKEN>`` or, with no token set, one from the loopback address, since
the figures tell an outsider how busy the service is.

The figures are defined where they are counted: server/transport/counters.py
(connections, messages, rejections) and server/extensions/counters.py (group
sends, Redis and database errors, delivery latency).
"""

import hmac
import os

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LOOPBACK = ("127.0.0.1", "::1")


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
