"""The ASGI application: ``daphne project.asgi:application``.

HTTP goes to Django. WebSocket handshakes pass the origin check
(server.origin), then session and user lookup (server.auth), then the URL
router.
Importing this module also gives daphne the corrected WebSocket protocol
(server.daphne_protocol), with WEBSOCKET_MAX_MESSAGE_SIZE as its limit; a
lighter queue between each connection and its application
(server.daphne_server); and a TCP transport that sends without waiting for the
next loop turn (server.twisted_transport).
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
from server import daphne_protocol, daphne_server, twisted_transport  # noqa: E402
from server.auth import SessionAuthMiddleware  # noqa: E402
from server.origin import allowed_hosts_or_no_origin  # noqa: E402

daphne_protocol.install(max_message_size=settings.WEBSOCKET_MAX_MESSAGE_SIZE)
daphne_server.install()
twisted_transport.install()

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
