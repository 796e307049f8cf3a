"""The chat's database work: each function one short transaction.

Consumers call these through ``channels.db.database_sync_to_async``, which
closes stale and broken connections before and after each call (with
CONN_HEALTH_CHECKS on, a connection the server closed is replaced, not
reused). The ORM's own async methods do not: they are plain sync_to_async.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

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


def existing_room(name):
    return Room.objects.filter(name=name).first()


def user_named(username):
    return get_user_model().objects.filter(username=username).first()


def room_to_post_in(name, user):
    """The existing room ``name`` for the application to post into, as
    ``user`` or (None) as the system: a private room takes its members' posts
    and the system's only."""
    room = Room.objects.filter(name=name).first()
    if room is None:
        raise ProtocolError(protocol.UNKNOWN_ROOM)
    if room.private and user is not None:
        if not room.members.filter(pk=user.pk).exists():
            raise ProtocolError(protocol.FORBIDDEN)
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
    message = Message(
        room=room,
        author=author,
        user=user if user.is_authenticated else None,
        text=text,
        client_id=client_id,
        created=timezone.now(),
    )
    try:
        if connection.vendor == "postgresql":
            insert_with_next_seq(message)
        else:
            with transaction.atomic():
                message.seq = next_seq(room)
                message.save(force_insert=True)
    except IntegrityError:
        # A resend: the unique constraint refused it, and the rollback took
        # its seq back, so no gap is left. Resends are rare; looking for one
        # before every insert had cost a query per message.
        earlier = resent(room, author, client_id) if client_id else None
        if earlier is None:
            raise
        return earlier, False
    return message, True


def insert_with_next_seq(message):
    """Take the room's next seq and insert the message in one statement: the
    room's row is locked only while it runs, so two workers storing into one
    room wait for each other as little as possible (PostgreSQL)."""
    room_table, message_table = Room._meta.db_table, Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH taken AS (UPDATE {room_table} SET last_seq = last_seq + 1"
            "  WHERE id = %s RETURNING last_seq)"
            f" INSERT INTO {message_table}"
            "  (room_id, seq, author, user_id, text, client_id, created)"
            " SELECT %s, last_seq, %s, %s, %s, %s, %s FROM taken"
            " RETURNING id, seq",
            [
                message.room_id,
                message.room_id,
                message.author,
                message.user_id,
                message.text,
                message.client_id,
                message.created,
            ],
        )
        message.id, message.seq = cursor.fetchone()


def next_seq(room):
    """Take the room's next seq. The update locks the room's row (PostgreSQL)
    or the database (SQLite, IMMEDIATE transactions) until commit: one writer
    at a time, and a rolled-back one gives its seq back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + 1"
            " WHERE id = %s RETURNING last_seq",
            [room.pk],
        )
        return cursor.fetchone()[0]


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
