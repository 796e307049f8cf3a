"""Routers and middleware that step aside once they have chosen.

A Channels router or middleware is a coroutine that awaits the application it
chose, so its frame, and the scope it was given, stay alive for as long as the
connection is open: with a protocol router, a host check, an origin check,
the session middleware, a URL router and ``as_asgi``'s wrapper, six frames and
two copies of the scope, about 2.6 KB of every idle connection
(``bench.memory_profile``). What they decide is decided before the first
await, so each of these returns the chosen application's coroutine instead of
awaiting it: the connection keeps only the consumer's frame.

``steps_aside`` marks such a callable as an ASGI 3 application for asgiref
(``guarantee_single_callable``), which would otherwise take a plain function
for an ASGI 2 one.
"""

from asgiref.sync import markcoroutinefunction
from channels.routing import URLRouter
from django.urls.exceptions import Resolver404

RELIES_ON = [
    (URLRouter, ["routes"]),
]

steps_aside = markcoroutinefunction


class ProtocolRouter:
    """Channels' ProtocolTypeRouter, stepping aside."""

    def __init__(self, application_mapping):
        self.application_mapping = application_mapping

    @steps_aside
    def __call__(self, scope, receive, send):
        application = self.application_mapping.get(scope["type"])
        if application is None:
            raise ValueError(f"No application for scope type {scope['type']!r}")
        return application(scope, receive, send)


class PathRouter(URLRouter):
    """Channels' URLRouter, stepping aside; for the outermost router, whose
    routes are consumers or middleware (not nested routers)."""

    @steps_aside
    def __call__(self, scope, receive, send):
        path = scope.get("path")
        if path is None:
            raise ValueError("No 'path' key in connection scope, cannot route URLs")
        root_path = scope.get("root_path", "")
        if not path.startswith(root_path):
            raise ValueError(f"No route found for path {path!r}.")
        path = path[len(root_path) :].lstrip("/")
        for route in self.routes:
            try:
                match = route.pattern.match(path)
            except Resolver404:
                continue
            if match:
                remaining, args, kwargs = match
                url_route = {"args": args, "kwargs": {**kwargs, **route.default_args}}
                routed = dict(scope, path_remaining=remaining, url_route=url_route)
                return route.callback(routed, receive, send)
        raise ValueError(f"No route found for path {path!r}.")
