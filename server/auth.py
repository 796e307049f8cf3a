"""Session and user lookup for WebSocket handshakes, skipped when there is none.

Channels' AuthMiddleware looks the user up in the database (a hop to a worker
thread) on every handshake. A handshake without a session cookie can only be
anonymous, so it gets AnonymousUser straight away.
"""

from channels.auth import AuthMiddleware
from channels.sessions import (
    CookieMiddleware,
    InstanceSessionWrapper,
    SessionMiddleware,
)
from django.contrib.auth.models import AnonymousUser


class WebSocketSessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware without its wrapper around ``send``.

    The wrapper saves a changed session only on an HTTP response, yet reads the
    session on every message sent; on a WebSocket it only costs. A consumer that
    changes the session saves it itself, as Channels' ``login()`` docs show.
    """

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


class LazyAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        if scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
        else:
            await super().resolve_scope(scope)


def SessionAuthMiddlewareStack(inner):
    """Channels' AuthMiddlewareStack for WebSockets, with the user lookup skipped
    for anonymous handshakes and the session left out of every send."""
    return CookieMiddleware(WebSocketSessionMiddleware(LazyAuthMiddleware(inner)))
