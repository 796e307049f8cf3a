"""The transport: daphne, autobahn and Twisted, corrected and bounded, and the
launcher that runs several daphne workers on one address.

Nothing here imports the Channels extensions or the apps; they import this.
Every module that reaches into an upstream package lists what it uses in
``RELIES_ON``, and ``install`` checks all of them (``upstream.py``) before it
installs anything, so that a release that moved one stops the server at
start-up with one line.

Two kinds of patch:

- correctness (``CORRECTNESS``): without them the service breaks RFC 6455,
  its documented close codes, or its memory bounds;
- speed (``SPEED``, in ``speed/``): mixins that change no behaviour. Each is
  named in one base-class list, so an upgrade drops them first.

``project/asgi.py`` calls ``install``; daphne imports the application before
it builds its server and factories, so a plain ``daphne project.asgi:application``
gets every patch too.
"""

from .upstream import check

CORRECTNESS = (
    "server.transport.daphne_protocol",
    "server.transport.autobahn_deflate",
    "server.transport.daphne_server",
    "server.transport.twisted_http",
    "server.transport.twisted_transport",
    "server.transport.daphne_reaping",
    "server.transport.keepalive",
    "server.transport.response_stream",
)
SPEED = (
    "server.transport.speed.autobahn_options",
    "server.transport.speed.twisted_write",
    "server.transport.speed.daphne_queue",
    "server.transport.speed.websocket_upgrade",
    "server.transport.speed.handshake_memory",
)


def install(
    *,
    max_message_size,
    send_buffer_bytes,
    close_timeout,
    permessage_deflate,
    ping_interval,
    pong_timeout,
    idle_timeout,
    max_connections,
    max_connections_per_address,
    head_seconds,
    max_head_bytes,
    slow_client_close,
    going_away_close,
    idle_close,
):
    """Check every upstream reliance, then install the patches with these
    limits. The closes are (code, reason) pairs from the close-code table."""
    daphne_protocol, _, daphne_server, twisted_http, twisted_transport, *_ = check(
        CORRECTNESS + SPEED
    )[: len(CORRECTNESS)]
    daphne_protocol.install(
        max_message_size=max_message_size,
        send_buffer_bytes=send_buffer_bytes,
        close_timeout=close_timeout,
        permessage_deflate=permessage_deflate,
        max_connections=max_connections,
        max_connections_per_address=max_connections_per_address,
        slow_client_close=slow_client_close,
    )
    daphne_server.install(
        ping_interval=ping_interval,
        pong_timeout=pong_timeout,
        idle_timeout=idle_timeout,
        idle_close=idle_close,
        shutdown_seconds=close_timeout,
        going_away_close=going_away_close,
    )
    twisted_http.install(head_seconds, max_head_bytes)
    twisted_transport.install()
