"""Taking a message into a room, the same for a client's message and for one
the application posts (realtime/publish.py): checked, stored with the room's
next id, announced with ``message_stored``. Broadcasting it is the caller's,
since a consumer and a plain process reach the members differently."""

import logging

from channels.db import database_sync_to_async as db
from django.conf import settings
from django.db import DatabaseError

from server.extensions import counters
from server.extensions.signals import send_logged

from . import away, protocol, storage
from .protocol import ProtocolError
from .signals import message_stored

logger = logging.getLogger(__name__)


def check(text, client_id, files=()):
    """Raise the protocol's error for a text, client_id or files it does not
    accept: a message with files may have no text."""
    if len(text) > settings.CHAT_MAX_TEXT_LENGTH:
        raise ProtocolError(
            protocol.TEXT_TOO_LONG,
            f"at most {settings.CHAT_MAX_TEXT_LENGTH} characters",
        )
    if not text.strip() and not files:
        raise ProtocolError(protocol.INVALID_FIELD, "text is empty")
    if len(files) > settings.CHAT_MESSAGE_FILES:
        raise ProtocolError(
            protocol.INVALID_FIELD, f"at most {settings.CHAT_MESSAGE_FILES} files"
        )
    if not all(isinstance(f, str) and 0 < len(f) <= 32 for f in files):
        raise ProtocolError(protocol.INVALID_FIELD, "files lists upload ids")
    if client_id is not None and not protocol.CLIENT_ID.fullmatch(client_id):
        raise ProtocolError(protocol.INVALID_FIELD, "client_id is invalid")


async def store(room, author, user, text, client_id, reply_to=None, files=()):
    """The message's wire form, and whether it is new (a resend is not);
    ``reply_to`` puts it in that message's thread, and ``files`` (upload ids)
    are its files."""
    check(text, client_id, files)
    stored, new = await written(
        storage.store, room, author, user, text, client_id, reply_to, files
    )
    message = stored.wire(room.name)
    if new:
        await send_logged(message_stored, room=room.name, message=message)
        try:
            await away.note(room, message)
        except DatabaseError:
            # The message is stored and goes out; only its email is lost.
            logger.exception("could not note message %s for those away", message["id"])
    return message, new


async def change(making, room, *args):
    """Store a change to a message (storage.edit, delete or react) as the
    room's next event; its wire form."""
    return (await written(making, room, *args)).wire(room.name)


async def written(writing, *args):
    """What a storage function that writes returns; a database that cannot
    take it is the protocol's ``unavailable``: nothing was accepted."""
    try:
        return await db(writing)(*args)
    except DatabaseError:
        counters.DATABASE_ERRORS.inc()
        raise ProtocolError(protocol.UNAVAILABLE) from None


def event(message):
    """The group event that delivers a stored event (a message or a change)
    to a room's members."""
    return {"type": "chat.message", "message": message}
