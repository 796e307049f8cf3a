"""Origin policy for WebSocket handshakes.

A browser always sends ``Origin``; it must name one of ALLOWED_HOSTS, or the
handshake is refused (403) as cross-site. Command-line and server-side clients
send none and are accepted: they are not subject to the browser's same-origin
rules, so there is nothing to protect them from. Channels' own validator refuses
them, hence this one.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings


class AllowedHostsOrNoOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def allowed_hosts_or_no_origin(application):
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return AllowedHostsOrNoOriginValidator(application, allowed_hosts)
