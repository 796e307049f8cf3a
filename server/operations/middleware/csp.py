"""A Content-Security-Policy on every HTTP response.

The pages load their script and style from their own origin and nothing else,
so the policy forbids inline script outright: text that a bug let into a page
as HTML still could not run. ``connect-src 'self'`` admits WebSockets to the
page's own host (CSP Level 3 matches ws: and wss: to http: and https:).
Django 5.2 has no CSP support of its own (6.0 adds it).
"""

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@sync_and_async_middleware
def content_security_policy(get_response):
    # Both modes, so that an async view (the HTTP API) takes no thread hop here.
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response.headers.setdefault("Content-Security-Policy", POLICY)
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response.headers.setdefault("Content-Security-Policy", POLICY)
            return response

    return middleware
