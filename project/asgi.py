"""The ASGI application: ``daphne project.asgi:application``.

HTTP goes to Django. WebSocket handshakes pass the origin check
(server.middleware.origin), then session and user lookup
(server.middleware.auth), then the URL router.
Importing this module also installs our patches to daphne, autobahn and
Twisted (server.patches), with the WEBSOCKET_* settings as their limits.
"""

import gc
import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

try:
    # Django must be set up before anything imports models or consumers.
    django_application = get_asgi_application()
except ImproperlyConfigured as error:
    raise SystemExit(f"Configuration error: {error}") from None

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from echo import routing  # noqa: E402
from server import patches  # noqa: E402
from server.middleware.auth import SessionAuthMiddleware  # noqa: E402
from server.middleware.origin import allowed_hosts_or_no_origin  # noqa: E402

patches.install(
    max_message_size=settings.WEBSOCKET_MAX_MESSAGE_SIZE,
    send_buffer_bytes=settings.WEBSOCKET_SEND_BUFFER_BYTES,
    close_timeout=settings.WEBSOCKET_CLOSE_TIMEOUT,
)

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": allowed_hosts_or_no_origin(
            SessionAuthMiddleware(URLRouter(routing.websocket_urlpatterns))
        ),
    }
)

# Everything loaded so far (Django, the apps, Twisted) lives as long as the
# process. Freezing it keeps the garbage collector from scanning it again on
# every collection, which profiling showed as a quarter of a handshake's time.
gc.freeze()
