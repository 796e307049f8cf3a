"""The chat's database work: each function one short transaction.

Consumers call these through ``channels.db.database_sync_to_async``, which
closes stale and broken connections before and after each call (with
CONN_HEALTH_CHECKS on, a connection the server closed is replaced, not
reused). The ORM's own async methods do not: they are plain sync_to_async.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F

from . import protocol
from .models import Message, Room
from .protocol import ProtocolError


def open_room(name, user):
    """The room ``name`` for ``user`` to join: public rooms are made on first
    join; a direct-message room only opens to its two members."""
    if protocol.is_direct(name):
        room = Room.objects.filter(name=name, private=True).first()
        if room is None:
            raise ProtocolError(protocol.UNKNOWN_ROOM)
        if not user.is_authenticated or not room.members.filter(pk=user.pk).exists():
            raise ProtocolError(protocol.FORBIDDEN)
        return room
    room, _ = Room.objects.get_or_create(name=name)
    return room


def open_direct_room(user, other_name):
    """The private room of ``user`` and the registered user ``other_name``."""
    if not user.is_authenticated:
        raise ProtocolError(protocol.LOGIN_REQUIRED)
    other = get_user_model().objects.filter(username=other_name).first()
    if other is None or other == user:
        raise ProtocolError(protocol.UNKNOWN_USER)
    name = protocol.direct_room(user.username, other.username)
    room, created = Room.objects.get_or_create(name=name, defaults={"private": True})
    if created:
        room.members.add(user, other)
    return room


def store(room, author, user, text, client_id):
    """Store a message with the room's next seq; (message, stored).

    A message whose author and client_id the room already has is not stored
    again: the stored one comes back, with stored False.
    """
    try:
        with transaction.atomic():
            if client_id is not None:
                earlier = resent(room, author, client_id)
                if earlier is not None:
                    return earlier, False
            # The update locks the room's row (PostgreSQL) or the database
            # (SQLite, IMMEDIATE transactions) until commit: one writer at a
            # time takes the next seq, and a rolled-back one leaves no gap.
            Room.objects.filter(pk=room.pk).update(last_seq=F("last_seq") + 1)
            seq = Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True)[0]
            message = Message.objects.create(
                room=room,
                seq=seq,
                author=author,
                user=user if user.is_authenticated else None,
                text=text,
                client_id=client_id,
            )
            return message, True
    except IntegrityError:
        # The same resend, stored by another worker in the meantime.
        earlier = resent(room, author, client_id) if client_id else None
        if earlier is None:
            raise
        return earlier, False


def resent(room, author, client_id):
    return Message.objects.filter(room=room, author=author, client_id=client_id).first()


def latest(room, limit):
    newest = Message.objects.filter(room=room).order_by("-seq")[:limit]
    return list(reversed(newest))


def after(room, seq, limit):
    return list(Message.objects.filter(room=room, seq__gt=seq).order_by("seq")[:limit])


def before(room, seq, limit):
    older = Message.objects.filter(room=room, seq__lt=seq).order_by("-seq")[:limit]
    return list(reversed(older))


def last_seq(room):
    return Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True)[0]


def public_rooms():
    return list(Room.objects.filter(private=False).values_list("name", "last_seq"))


def direct_rooms(user):
    if not user.is_authenticated:
        return []
    return list(user.chat_rooms.values_list("name", "last_seq"))
