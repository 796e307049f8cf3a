"""Session and user lookup for WebSocket handshakes, skipped when there is none.

Channels' AuthMiddleware looks the user up in the database (a hop to a worker
thread) on every handshake. A handshake without a session cookie can only be
anonymous, so it gets AnonymousUser straight away.
"""

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.models import AnonymousUser


class LazyAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        if scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
        else:
            await super().resolve_scope(scope)


def SessionAuthMiddlewareStack(inner):
    """Channels' AuthMiddlewareStack, with the lookup skipped for anonymous
    handshakes."""
    return CookieMiddleware(SessionMiddleware(LazyAuthMiddleware(inner)))
