"""Origin policy for WebSocket handshakes.

A browser always sends ``Origin``; it must name one of ALLOWED_HOSTS, or the
handshake is refused (403) as cross-site. Command-line and server-side clients
send none and are accepted: they are not subject to the browser's same-origin
rules, so there is nothing to protect them from. Channels' own validator refuses
them, hence this one.

A site's handshakes come from a handful of origins, so each origin's verdict is
remembered (up to ORIGINS_REMEMBERED) instead of parsed and matched every time.
The check steps aside once it has decided (server/extensions/routing.py).
"""

from functools import lru_cache
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

from server.extensions.routing import steps_aside

ORIGINS_REMEMBERED = 1024


class AllowedHostsOrNoOriginValidator(OriginValidator):
    def __init__(self, application, allowed_origins):
        super().__init__(application, allowed_origins)
        self.allows = lru_cache(maxsize=ORIGINS_REMEMBERED)(self._allows)

    @steps_aside
    def __call__(self, scope, receive, send):
        # Like Channels' validator, the last Origin header counts.
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
        if self.allows(origin):
            return self.application(scope, receive, send)
        return WebsocketDenier()(scope, receive, send)

    def _allows(self, origin):
        if origin is None:
            return True
        return self.valid_origin(urlparse(origin.decode("latin1")))


def allowed_hosts_or_no_origin(application):
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return AllowedHostsOrNoOriginValidator(application, allowed_hosts)
