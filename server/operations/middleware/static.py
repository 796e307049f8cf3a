"""Static files through WhiteNoise, without making every async view pay for it.

WhiteNoise's middleware is sync only. Django runs a sync middleware in front of
an async view through ``sync_to_async``, one thread for all of them, so every
request to the HTTP API (async views) took a thread hop and waited its turn:
one worker answered 447 API publishes a second (python -m bench --modes
publish). This wrapper answers a request for a known static file with
WhiteNoise's response, and passes any other request on in the mode it came in.
"""

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.utils.decorators import sync_and_async_middleware
from whitenoise.middleware import WhiteNoiseMiddleware


@sync_and_async_middleware
def static_files(get_response):
    whitenoise = WhiteNoiseMiddleware(get_response)

    def static_file(request):
        if whitenoise.autorefresh:
            return whitenoise.find_file(request.path_info)
        return whitenoise.files.get(request.path_info)

    if iscoroutinefunction(get_response):

        async def middleware(request):
            found = static_file(request)
            if found is None:
                return await get_response(request)
            return await sync_to_async(whitenoise.serve)(found, request)

    else:

        def middleware(request):
            found = static_file(request)
            if found is None:
                return get_response(request)
            return whitenoise.serve(found, request)

    return middleware
