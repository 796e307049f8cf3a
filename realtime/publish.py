"""Reaching connected users from anywhere in the Django application: a view, a
signal receiver, a Celery task, a management command, a script.

    from realtime import publish

    publish.send_to_user(request.user, {"type": "notice", "text": "Export ready"})
    publish.post_message("lobby", "Deploy finished", idempotency_key="deploy-812")

Every call has a sync form, and an async one named with an ``a`` in front as
Django's own are (``await publish.asend_to_user(...)``). The sync forms work
from sync views under daphne (through the server's event loop) and from plain
processes (through the channel layer's publisher thread, which keeps its Redis
connections from one call to the next); they must not be called from async
code, where the async forms are.

What each call reaches:

- ``send_to_group(group, data)``: every connection in a channel-layer group;
- ``send_to_user(user, data)``: every open connection of that user, on every
  worker, whatever the consumer;
- ``disconnect_user(user)`` and ``disconnect_session(session_key)``: close
  them with 3000 "signed out" (or another code and reason);
- ``post_message(room, text, user=None, idempotency_key=None)``: a chat
  message, stored, numbered and delivered like a client's, as ``user`` or, with
  none, as "system". A repeated ``idempotency_key`` stores once.

A sync call made inside a database transaction (``transaction.atomic()`` on
the default database) waits for it: it runs once the transaction commits, and
never if it rolls back, so that no user hears of a change that did not
happen; it returns None then (a ``post_message`` reports nothing: it has not
run yet), and an error it meets is raised when the commit runs it, at the
end of the outermost ``atomic`` block. Outside a transaction a call runs at
once. The async forms always run at once: Django's transactions are sync.

``data`` is sent as one WebSocket message: a str as text, bytes as binary,
anything else as its JSON in text. Errors: ``chat.protocol.ProtocolError``
(its ``error.code`` says which: ``unknown_room``, ``forbidden``,
``text_too_long``, ``invalid_field``, ``unavailable``), ``LookupError`` for an
unknown user, ``ChannelLayerUnavailable`` when Redis cannot be reached (a
posted message is stored all the same).
"""

import functools
from typing import NamedTuple

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async as db
from channels.layers import get_channel_layer
from django.db import transaction

from chat import posting, protocol, storage
from server.extensions import users
from server.extensions.close_codes import SIGNED_OUT
from server.extensions.layers import PUBLISHER


class Posted(NamedTuple):
    message: dict  # its wire form (docs/chat-protocol.md)
    new: bool  # False: the idempotency key had been posted before


async def asend_to_group(group, data):
    await get_channel_layer().group_send(group, users.send_event(data))


async def asend_to_user(user, data):
    group = users.user_group(await user_id(user))
    await get_channel_layer().group_send(group, users.send_event(data))


async def adisconnect_user(user, code=SIGNED_OUT.code, reason=SIGNED_OUT.reason):
    group = users.user_group(await user_id(user))
    await get_channel_layer().group_send(group, users.disconnect_event(code, reason))


async def adisconnect_session(
    session_key, code=SIGNED_OUT.code, reason=SIGNED_OUT.reason
):
    group = users.session_group(session_key)
    await get_channel_layer().group_send(group, users.disconnect_event(code, reason))


async def apost_message(room, text, user=None, idempotency_key=None):
    """Post ``text`` into the existing room named ``room``."""
    author = user.username if user is not None else protocol.SYSTEM_AUTHOR
    found = await db(storage.room_to_post_in)(room, user)
    poster = storage.SYSTEM if user is None else user
    message, new = await posting.store(found, author, poster, text, idempotency_key)
    if new:
        await get_channel_layer().group_send(found.group, posting.event(message))
    return Posted(message, new)


async def user_id(user):
    """The primary key of a user given as a user, a primary key or a username."""
    if isinstance(user, int):
        return user
    if isinstance(user, str):
        found = await db(storage.user_named)(user)
        if found is None:
            raise LookupError(f"no user named {user!r}")
        return found.pk
    return user.pk


def blocking(async_function):
    """The sync form of ``async_function``, run once the caller's transaction
    commits if it is in one. In a process whose channel layer
    receives (a server, whose view threads asgiref hands back to its loop) it
    is ``async_to_sync``; in a plain process it runs on the layer's publisher
    thread instead, sparing ``async_to_sync``'s new event loop and thread per
    call (docs/benchmarks.md gives the difference)."""
    through_asgiref = async_to_sync(async_function)

    def now(*args, **kwargs):
        layer = get_channel_layer()
        if PUBLISHER in layer.extensions and not layer.receives():
            return layer.publish_blocking(async_function(*args, **kwargs))
        return through_asgiref(*args, **kwargs)

    def call(*args, **kwargs):
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(functools.partial(now, *args, **kwargs))
            return None
        return now(*args, **kwargs)

    call.__name__ = async_function.__name__.removeprefix("a")
    call.__doc__ = async_function.__doc__
    return call


send_to_group = blocking(asend_to_group)
send_to_user = blocking(asend_to_user)
disconnect_user = blocking(adisconnect_user)
disconnect_session = blocking(adisconnect_session)
post_message = blocking(apost_message)
