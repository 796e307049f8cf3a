"""Our patches to daphne, Twisted and autobahn, installed in one place.

Each module says which upstream defect it works around and where that is
reported, and lists the upstream internals it relies on; ``install`` checks
they are all there first, so that a release that moved them stops the server
at start-up with one line instead of misbehaving.
"""

import inspect
import re

from . import (
    autobahn_deflate,
    daphne_protocol,
    daphne_server,
    twisted_http,
    twisted_transport,
)

PATCHES = (
    autobahn_deflate,
    daphne_protocol,
    daphne_server,
    twisted_http,
    twisted_transport,
)


class UnsupportedUpstream(SystemExit):
    pass


def check(patch):
    for owner, names in patch.RELIES_ON:
        missing = [name for name in names if not has(owner, name)]
        if missing:
            raise UnsupportedUpstream(
                f"{patch.__name__}: {describe(owner)} has no {', '.join(missing)}; "
                "this release is not supported, see requirements.txt"
            )


def has(owner, name):
    """An attribute, an entry of a list of names, or an attribute that
    ``__init__`` (or, for a function, the function) sets on ``self``."""
    if isinstance(owner, (list, tuple)):
        return name in owner
    if hasattr(owner, name):
        return True
    setter = owner if inspect.isfunction(owner) else getattr(owner, "__init__", None)
    try:
        source = inspect.getsource(setter)
    except (TypeError, OSError):
        return False
    return re.search(rf"self\.{re.escape(name)}\b", source) is not None


def describe(owner):
    if isinstance(owner, (list, tuple)):
        return "the option list"
    return getattr(owner, "__qualname__", None) or owner.__name__


def install(
    *,
    max_message_size,
    send_buffer_bytes,
    close_timeout,
    permessage_deflate,
    ping_interval,
    pong_timeout,
    max_connections,
    max_connections_per_address,
    head_seconds,
    max_head_bytes,
):
    for patch in PATCHES:
        check(patch)
    daphne_protocol.install(
        max_message_size=max_message_size,
        send_buffer_bytes=send_buffer_bytes,
        close_timeout=close_timeout,
        permessage_deflate=permessage_deflate,
        max_connections=max_connections,
        max_connections_per_address=max_connections_per_address,
    )
    daphne_server.install(ping_interval, pong_timeout, shutdown_seconds=close_timeout)
    twisted_http.install(head_seconds, max_head_bytes)
    twisted_transport.install()
