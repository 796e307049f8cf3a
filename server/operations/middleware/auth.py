"""Cookies, session and user for a WebSocket handshake, in one middleware.

It puts in the scope what Channels' AuthMiddlewareStack (cookie, session and
auth middleware) puts there, ``cookies``, ``session`` and ``user``, so that
Channels' ``login()`` and ``logout()`` work as documented, but in one step and
with less work per handshake:

- a handshake without a session cookie can only be anonymous, so it gets
  AnonymousUser straight away instead of a database lookup in a worker thread,
  and the middleware steps aside (server/extensions/routing.py);
- the session and user are plain objects, not lazy proxies, resolved before
  the consumer runs, as Channels' stack resolves them too;
- nothing wraps ``send``: Channels' session wrapper reads the session on every
  message sent but saves it only on HTTP responses, so on a WebSocket it only
  costs. A consumer that changes the session saves it itself, as Channels'
  ``login()`` docs show.

Three middleware layers were about a tenth of a handshake's time, measured with
``python -m bench --modes handshakes``.
"""

from importlib import import_module

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from server.extensions.routing import steps_aside


class SessionAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    @steps_aside
    def __call__(self, scope, receive, send):
        cookies = request_cookies(scope["headers"])
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        scope = dict(scope, cookies=cookies, session=self.session_store(session_key))
        if session_key is None:
            scope["user"] = AnonymousUser()
            return self.inner(scope, receive, send)
        return self.signed_in(scope, receive, send)

    async def signed_in(self, scope, receive, send):
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


def request_cookies(headers):
    for name, value in headers:
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}
