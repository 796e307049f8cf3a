"""The Host header of a WebSocket handshake must name one of ALLOWED_HOSTS.

Django checks Host on every HTTP request (``request.get_host()``); a WebSocket
handshake never reaches Django's request handling, so without this a socket
opens under any host name, DNS rebinding included. A refused handshake gets
403, as the origin check's refusal does. It steps aside once it has decided
(server/extensions/routing.py).
"""

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from server.extensions.routing import steps_aside


def host_check():
    """Whether a scope's Host names one of ALLOWED_HOSTS: the handshake's
    check, and the HTTP fallback's for its POSTs."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        # What Django allows in DEBUG with ALLOWED_HOSTS empty.
        allowed = [".localhost", "127.0.0.1", "[::1]"]

    def allows(scope):
        host = next(
            (
                value.decode("latin1")
                for name, value in scope["headers"]
                if name == b"host"
            ),
            "",
        )
        domain, _ = split_domain_port(host)
        return bool(domain) and validate_host(domain, allowed)

    return allows


def allowed_hosts_only(application):
    allows = host_check()

    @steps_aside
    def check_host(scope, receive, send):
        if allows(scope):
            return application(scope, receive, send)
        return WebsocketDenier()(scope, receive, send)

    return check_host
