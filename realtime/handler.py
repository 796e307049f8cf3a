"""The HTTP API's own Django handler, without the pages' middleware.

The API needs no session, CSRF, authentication, messages or clickjacking
middleware: it authenticates by key. Django runs each of those middlewares'
hooks through ``sync_to_async`` in front of an async view, one thread hop
each, all on one thread: with them one worker answered 440 API calls a second
(python -m bench --modes publish). ``project/asgi.py`` sends /api/ here.
"""

from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings
from django.utils.decorators import sync_and_async_middleware

# Only middleware that runs in both modes, so that no call takes a hop.
API_MIDDLEWARE = [
    "server.operations.middleware.csp.content_security_policy",
    "realtime.handler.content_length",
]


@sync_and_async_middleware
def content_length(get_response):
    """Content-Length on every answer, as CommonMiddleware gives the pages,
    so that a client need not read a chunked body."""

    def measured(response):
        if not response.streaming and "Content-Length" not in response:
            response["Content-Length"] = str(len(response.content))
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return measured(await get_response(request))

    else:

        def middleware(request):
            return measured(get_response(request))

    return middleware


class ApiHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=API_MIDDLEWARE):
            super().load_middleware(is_async)


API_PREFIX = "/api/"
