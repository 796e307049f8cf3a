"""The ASGI application: ``daphne project.asgi:application``.

HTTP goes to Django; /api/ to Django without the pages' middleware
(realtime/handler.py); /sse/ to the HTTP fallback, which runs the chat's
WebSocket application, through the same checks, behind a stream of
server-sent events (server/extensions/http_fallback.py). WebSocket
handshakes pass the Host check (server.operations.middleware.host), the origin
check (.origin), then session and user lookup (.auth), then the URL router:
the ``websocket_urlpatterns`` of every installed app that has a ``routing``
module, in INSTALLED_APPS order, and last a refusal (403) of any other path.

Importing this module also checks every upstream name we rely on and installs
our patches to daphne, autobahn and Twisted (server.transport), with the
WEBSOCKET_* settings as their limits; a missing name stops it with one line.
"""

import gc
import importlib
import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

try:
    # Django must be set up before anything imports models or consumers.
    django_application = get_asgi_application()
except ImproperlyConfigured as error:
    raise SystemExit(f"Configuration error: {error}") from None

from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402
from django.utils.module_loading import module_has_submodule  # noqa: E402

from realtime.handler import API_PREFIX, ApiHandler  # noqa: E402
from server import extensions, transport  # noqa: E402
from server.extensions.close_codes import GOING_AWAY, IDLE, TOO_SLOW  # noqa: E402
from server.extensions.http_fallback import PREFIX as FALLBACK_PREFIX  # noqa: E402
from server.extensions.http_fallback import HttpFallback  # noqa: E402
from server.extensions.routing import PathRouter, ProtocolRouter  # noqa: E402
from server.operations.middleware.auth import SessionAuthMiddleware  # noqa: E402
from server.operations.middleware.host import (  # noqa: E402
    allowed_hosts_only,
    host_check,
)
from server.operations.middleware.origin import (  # noqa: E402
    allowed_hosts_or_no_origin,
)

transport.install(
    max_message_size=settings.WEBSOCKET_MAX_MESSAGE_SIZE,
    send_buffer_bytes=settings.WEBSOCKET_SEND_BUFFER_BYTES,
    close_timeout=settings.WEBSOCKET_CLOSE_TIMEOUT,
    permessage_deflate=settings.WEBSOCKET_PERMESSAGE_DEFLATE,
    ping_interval=settings.WEBSOCKET_PING_INTERVAL,
    pong_timeout=settings.WEBSOCKET_PONG_TIMEOUT,
    idle_timeout=settings.WEBSOCKET_IDLE_TIMEOUT,
    max_connections=settings.WEBSOCKET_MAX_CONNECTIONS,
    max_connections_per_address=settings.WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS,
    head_seconds=settings.HTTP_HEADERS_TIMEOUT,
    max_head_bytes=settings.HTTP_MAX_HEADER_BYTES,
    slow_client_close=(TOO_SLOW.code, TOO_SLOW.reason),
    going_away_close=(GOING_AWAY.code, GOING_AWAY.reason),
    idle_close=(IDLE.code, IDLE.reason),
)
extensions.check_upstream()


def websocket_urlpatterns():
    patterns = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "routing"):
            routing = importlib.import_module(f"{app.name}.routing")
            patterns.extend(getattr(routing, "websocket_urlpatterns", []))
    # Any other path is refused at the handshake (403), not failed with a 500.
    patterns.append(re_path(r"", WebsocketDenier.as_asgi(), name="unknown"))
    return patterns


# The WebSocket paths that the HTTP fallback serves too, as /sse/<path>.
FALLBACK_ROUTES = ("/ws/chat/",)
api_application = ApiHandler()
origin_check = allowed_hosts_or_no_origin(
    SessionAuthMiddleware(PathRouter(websocket_urlpatterns()))
)
websocket_application = allowed_hosts_only(origin_check)
# The chat over server-sent events and POST, for networks that block WebSocket.
fallback_application = HttpFallback(
    websocket_application,
    FALLBACK_ROUTES,
    allows_host=host_check(),
    allows_origin=origin_check.allows,
)


async def http_application(scope, receive, send):
    if scope["path"].startswith(API_PREFIX):
        return await api_application(scope, receive, send)
    if scope["path"].startswith(FALLBACK_PREFIX):
        return await fallback_application(scope, receive, send)
    return await django_application(scope, receive, send)


application = ProtocolRouter(
    {"http": http_application, "websocket": websocket_application}
)

# Everything loaded so far (Django, the apps, Twisted) lives as long as the
# process. Freezing it keeps the garbage collector from scanning it again on
# every collection, which profiling showed as a quarter of a handshake's time.
gc.freeze()
# A connection holds about a hundred objects the collector tracks, so a worker
# with many holds millions, and each full collection scans them all. Python's
# default first threshold (700 allocations) ran one full collection per 700 x
# 10 x 10 allocations: 11 of them, 3.6 s in all, while 10,000 connections
# opened in 10 s. With this one, none ran, and they opened 1.8x as fast
# (docs/benchmarks.md, "Many connections on one worker").
GC_THRESHOLDS = (50_000, 20, 10)
gc.set_threshold(*GC_THRESHOLDS)
