from django.conf import settings
from django.shortcuts import render

from . import protocol


def client_page(request):
    """The browser client for the echo endpoints."""
    return render(
        request,
        "echo/index.html",
        {
            "max_message_size": settings.WEBSOCKET_MAX_MESSAGE_SIZE,
            "subprotocols": protocol.SUBPROTOCOLS,
        },
    )
