"""The chat's database work: each function one short transaction.

Consumers call these through ``channels.db.database_sync_to_async``, which
closes stale and broken connections before and after each call (with
CONN_HEALTH_CHECKS on, a connection the server closed is replaced, not
reused). The ORM's own async methods do not: they are plain sync_to_async.

Everything that adds to a room's history takes the room's next seq with one
UPDATE of the room's row (``take_seq``), which also holds the room's lock
until commit: changes to one room are made one at a time, in seq order, and
a refused or rolled-back one gives its seq back.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from . import files as uploads
from . import formatting, protocol
from .models import Event, Membership, Mention, Preferences, ReadState, Room
from .protocol import ProtocolError

# The user of a message the application posts as the system: no checks.
SYSTEM = None


# Rooms, and who may be in them.


def open_room(name, user):
    """The room ``name`` for ``user`` to join: a public room is made on first
    join (owned by its maker, if signed in); a private one opens to its
    members only."""
    room = Room.objects.filter(name=name).first()
    if room is None and protocol.is_direct(name):
        raise ProtocolError(protocol.UNKNOWN_ROOM)
    if room is None:
        with transaction.atomic():
            owner = user if user.is_authenticated else None
            room, created = Room.objects.get_or_create(
                name=name, defaults={"owner": owner}
            )
            if created and owner is not None:
                Membership.objects.create(room=room, user=owner, role=Membership.OWNER)
    may_read(room, user)
    return room


def create_room(name, user, private):
    """A new room of ``user``'s, public or private; refused if it exists."""
    if not user.is_authenticated:
        raise ProtocolError(protocol.LOGIN_REQUIRED)
    try:
        with transaction.atomic():
            room = Room.objects.create(name=name, private=private, owner=user)
            Membership.objects.create(room=room, user=user, role=Membership.OWNER)
    except IntegrityError:
        raise ProtocolError(protocol.ROOM_EXISTS) from None
    return room


def open_direct_room(user, other_name):
    """The private room of ``user`` and the registered user ``other_name``."""
    if not user.is_authenticated:
        raise ProtocolError(protocol.LOGIN_REQUIRED)
    other = get_user_model().objects.filter(username=other_name).first()
    if other is None or other == user:
        raise ProtocolError(protocol.UNKNOWN_USER)
    name = protocol.direct_room(user.username, other.username)
    with transaction.atomic():
        room, created = Room.objects.get_or_create(
            name=name, defaults={"private": True}
        )
        if created:
            Membership.objects.bulk_create(
                [Membership(room=room, user=user), Membership(room=room, user=other)]
            )
    return room


def membership(room, user):
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(room=room, user=user).first()


def may_read(room, user, held=None):
    """Raise unless ``user`` may join and read ``room``; their membership."""
    held = membership(room, user) if held is None else held
    if held is not None and held.banned:
        raise ProtocolError(protocol.BANNED)
    if room.private and held is None:
        raise ProtocolError(protocol.FORBIDDEN)
    return held


def moderates(room, user, held=None):
    """Whether ``user`` may moderate ``room``: its owner, its moderators, and
    the site's staff. Nobody moderates a direct-message room."""
    if protocol.is_direct(room.name) or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    held = membership(room, user) if held is None else held
    return held is not None and held.moderates


def taken_out_by(room, user):
    """Who last took ``user`` out of ``room`` (removed, banned or departed),
    from its member events; None if none did."""
    event = (
        Event.objects.filter(room=room, kind=Event.MEMBER, data__user=user.username)
        .filter(data__action__in=("removed", "banned", "departed"))
        .order_by("-seq")
        .first()
    )
    return None if event is None else event.author


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
    if user is not None:
        may_read(room, user)
    return room


def room_to_upload_to(name, user):
    """The room ``user`` may post a file in: one they may read and are not
    muted in."""
    room = existing_room(name) if isinstance(name, str) else None
    if room is None:
        raise ProtocolError(protocol.UNKNOWN_ROOM)
    held = may_read(room, user)
    if held is not None and held.muted:
        raise ProtocolError(protocol.MUTED)
    return room


# Taking the room's next seq.


def take_seq(room, user):
    """Take the room's next seq for something ``user`` posts; None if they may
    not post there (muted, banned, or no member of a private room).
    SYSTEM posts anywhere."""
    sql, params = seq_update(room, user)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING last_seq", params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def seq_update(room, user):
    """The UPDATE that takes ``room``'s next seq if ``user`` may post in it."""
    sql = f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s"
    params = [room.pk]
    if user is SYSTEM:
        return sql, params
    held = f"SELECT 1 FROM {Membership._meta.db_table} m WHERE m.room_id = %s"
    user_id = user.pk if user.is_authenticated else None
    sql += f" AND NOT EXISTS ({held} AND m.user_id = %s AND (m.muted OR m.banned))"
    params += [room.pk, user_id]
    if room.private:
        sql += f" AND EXISTS ({held} AND m.user_id = %s)"
        params += [room.pk, user_id]
    return sql, params


def refusal(room, user):
    """Why ``user`` may not post in ``room``."""
    held = may_read(room, user)
    if held is not None and held.muted:
        return ProtocolError(protocol.MUTED)
    return ProtocolError(protocol.FORBIDDEN)


# Messages.


def store(room, author, user, text, client_id, reply_to=None, files=()):
    """Store a message with the room's next seq; (message, stored).

    ``user`` is the poster, or SYSTEM. A message whose author and client_id
    the room already has is not stored again: the stored one comes back,
    with stored False. ``reply_to`` makes it a reply in that message's thread;
    ``files`` are ids of the poster's uploads (chat/files.py) it refers to.
    """
    message = Event(
        room=room,
        author=author,
        user=registered(user),
        text=text,
        html=formatting.html(text),
        client_id=client_id,
        created=timezone.now(),
    )
    names = protocol.mentioned(text, author)
    try:
        plain = not names and reply_to is None and not files
        if connection.vendor == "postgresql" and plain:
            insert_with_next_seq(message, user)
        else:
            with transaction.atomic():
                message.seq = take_seq(room, user)
                if message.seq is not None:
                    if reply_to is not None:
                        message.thread = join_thread(room, reply_to)
                    if files:
                        attached = uploads.attach(room, user, message.seq, files)
                        message.data = {"files": attached}
                    message.save(force_insert=True)
                    mention(room, message.seq, names)
    except IntegrityError:
        # A resend: the unique constraint refused it, and the rollback took
        # its seq back, so no gap is left. Resends are rare; looking for one
        # before every insert had cost a query per message.
        earlier = resent(room, author, client_id) if client_id else None
        if earlier is None:
            raise
        return earlier, False
    except ProtocolError as problem:
        # A resend of a message with files: the stored one holds them now.
        earlier = None
        if problem.error is protocol.UNKNOWN_FILE and client_id:
            earlier = resent(room, author, client_id)
        if earlier is None:
            raise
        return earlier, False
    if message.seq is None:
        raise refusal(room, user)
    return message, True


def insert_with_next_seq(message, user):
    """Take the room's next seq and insert the message in one statement: the
    room's row is locked only while it runs, so two workers storing into one
    room wait for each other as little as possible (PostgreSQL)."""
    taking, params = seq_update(message.room, user)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH taken AS ({taking} RETURNING last_seq)"
            f" INSERT INTO {Event._meta.db_table}"
            "  (room_id, seq, kind, author, user_id, text, html, client_id,"
            "   created, edited, deleted)"
            " SELECT %s, last_seq, 0, %s, %s, %s, %s, %s, %s, false, false"
            " FROM taken"
            " RETURNING id, seq",
            params
            + [
                message.room_id,
                message.author,
                message.user_id,
                message.text,
                message.html,
                message.client_id,
                message.created,
            ],
        )
        row = cursor.fetchone()
    message.id, message.seq = row if row is not None else (None, None)


def join_thread(room, reply_to):
    """The thread a reply to ``reply_to`` goes into, one reply more: that
    message's own, or the one it is in. A deleted message's thread goes on."""
    replied = Event.objects.filter(room=room, seq=reply_to, kind=Event.MESSAGE)
    found = replied.values_list("thread").first()
    if found is None:
        raise ProtocolError(protocol.UNKNOWN_MESSAGE, "reply_to is no message here")
    root = reply_to if found[0] is None else found[0]
    Event.objects.filter(room=room, seq=root).update(replies=F("replies") + 1)
    return root


def registered(user):
    """The user an event is stored under: a signed-in one, else nobody."""
    return user if user is not SYSTEM and user.is_authenticated else None


def mention(room, seq, names):
    Mention.objects.bulk_create([Mention(room=room, seq=seq, name=n) for n in names])


def resent(room, author, client_id):
    return Event.objects.filter(room=room, author=author, client_id=client_id).first()


# Changes to messages: each one an event of its own, in the room's order.


def edit(room, name, user, target, text):
    """``name`` replaces the text of their message ``target``: the edit event."""
    with transaction.atomic():
        seq = take_seq(room, user)
        if seq is None:
            raise refusal(room, user)
        message = live_message(room, target)
        if not is_author(message, name, user):
            raise ProtocolError(protocol.FORBIDDEN, "only its author edits a message")
        message.text, message.html, message.edited = text, formatting.html(text), True
        message.save(update_fields=["text", "html", "edited"])
        Mention.objects.filter(room=room, seq=target).delete()
        mention(room, target, protocol.mentioned(text, message.author))
        return add_event(
            room, seq, Event.EDIT, name, user, target, text, html=message.html
        )


def delete(room, name, user, target):
    """Delete message ``target``, by its author or a moderator: its text and
    its edits' texts are gone from the database, and a tombstone stays."""
    with transaction.atomic():
        seq = take_seq(room, SYSTEM)
        message = live_message(room, target)
        by_author = is_author(message, name, user)
        if not by_author:
            if not moderates(room, user):
                raise ProtocolError(
                    protocol.FORBIDDEN, "only its author or a moderator deletes it"
                )
            record(room, user, "delete", message.author, target)
        elif not by_author_allowed(room, user):
            raise refusal(room, user)
        message.text, message.html, message.data = "", "", None
        message.deleted, message.edited = True, False
        message.save(update_fields=["text", "html", "data", "deleted", "edited"])
        uploads.remove(room, target)
        edits = Event.objects.filter(room=room, kind=Event.EDIT, target=target)
        edits.update(text="", html="")
        Mention.objects.filter(room=room, seq=target).delete()
        room.reaction_set.filter(target=target).delete()
        if message.thread is not None:
            root = Event.objects.filter(room=room, seq=message.thread)
            root.update(replies=F("replies") - 1)
        return add_event(room, seq, Event.DELETE, name, user, target, "")


def by_author_allowed(room, user):
    """An author may take back their message unless banned from the room."""
    held = membership(room, user)
    return held is None or not held.banned


def react(room, name, user, target, emoji):
    """Toggle ``name``'s ``emoji`` on message ``target``: the reaction event,
    with everyone who reacted with that emoji since."""
    with transaction.atomic():
        seq = take_seq(room, user)
        if seq is None:
            raise refusal(room, user)
        live_message(room, target)
        reactions = room.reaction_set.filter(target=target, emoji=emoji)
        removed, _ = reactions.filter(author=name).delete()
        if not removed:
            room.reaction_set.create(target=target, emoji=emoji, author=name)
        data = {"users": sorted(reactions.values_list("author", flat=True))}
        return add_event(room, seq, Event.REACTION, name, user, target, emoji, data)


def live_message(room, seq):
    message = Event.objects.filter(
        room=room, seq=seq, kind=Event.MESSAGE, deleted=False
    ).first()
    if message is None:
        raise ProtocolError(protocol.UNKNOWN_MESSAGE)
    return message


def is_author(message, name, user):
    if user.is_authenticated:
        return message.user_id == user.pk
    return message.user_id is None and message.author == name


def add_event(room, seq, kind, name, user, target, text, data=None, html=""):
    return Event.objects.create(
        room=room,
        seq=seq,
        kind=kind,
        author=name,
        user=registered(user),
        target=target,
        text=text,
        html=html,
        data=data,
        created=timezone.now(),
    )


# Members and moderation: each change an event in the room's order, and each
# moderator's action recorded (ModerationAction, in the admin).


def change_member(room, actor, action, username, role=None):
    """Do ``action`` to ``username`` in ``room`` as ``actor``; (event, user).

    Actions: invite and remove (private rooms), ban and unban, mute and
    unmute, and role (the owner makes a member moderator or member again).
    """
    with transaction.atomic():
        seq = take_seq(room, SYSTEM)
        held = membership(room, actor)
        if not moderates(room, actor, held):
            raise ProtocolError(protocol.FORBIDDEN, "moderators only")
        user = user_named(username)
        if user is None:
            raise ProtocolError(protocol.UNKNOWN_USER)
        target = Membership.objects.filter(room=room, user=user).first()
        if target is not None and target.role == Membership.OWNER and user != actor:
            raise ProtocolError(protocol.FORBIDDEN, "the owner cannot be moderated")
        data = MEMBER_ACTIONS[action](room, actor, held, user, target, role)
        record(room, actor, action, username)
        event = add_event(
            room, seq, Event.MEMBER, actor.username, actor, None, "", data
        )
        return event, user


def invite(room, actor, held, user, target, role):
    if not room.private:
        raise ProtocolError(protocol.INVALID_FIELD, "public rooms are open to all")
    if target is not None and target.banned:
        raise ProtocolError(protocol.BANNED, "unban them first")
    if target is not None:
        raise ProtocolError(protocol.INVALID_FIELD, "already a member")
    Membership.objects.create(room=room, user=user)
    return {"user": user.username, "action": "invited"}


def remove(room, actor, held, user, target, role):
    if target is None or target.banned or not room.private:
        raise ProtocolError(protocol.INVALID_FIELD, "not a member")
    target.delete()
    return {"user": user.username, "action": "removed"}


def ban(room, actor, held, user, target, role):
    if user == actor:
        raise ProtocolError(protocol.INVALID_FIELD, "not yourself")
    Membership.objects.update_or_create(
        room=room, user=user, defaults={"banned": True, "role": Membership.MEMBER}
    )
    return {"user": user.username, "action": "banned"}


def unban(room, actor, held, user, target, role):
    if target is None or not target.banned:
        raise ProtocolError(protocol.INVALID_FIELD, "not banned")
    # Banned from a private room, they are no member: invite them again.
    target.delete()
    return {"user": user.username, "action": "unbanned"}


def mute(room, actor, held, user, target, role):
    return set_muted(room, user, target, True)


def unmute(room, actor, held, user, target, role):
    return set_muted(room, user, target, False)


def set_muted(room, user, target, muted):
    target = to_mark(room, user, target)
    target.muted = muted
    target.save()
    return {"user": user.username, "action": "muted" if muted else "unmuted"}


def set_role(room, actor, held, user, target, role):
    owner = actor.is_staff or (held is not None and held.role == Membership.OWNER)
    if not owner:
        raise ProtocolError(protocol.FORBIDDEN, "the owner appoints moderators")
    if role not in (Membership.MODERATOR, Membership.MEMBER) or user == actor:
        raise ProtocolError(protocol.INVALID_FIELD, "role is moderator or member")
    target = to_mark(room, user, target)
    target.role = role
    target.save()
    return {"user": user.username, "action": "role", "role": role}


def to_mark(room, user, target):
    """The membership a mark or a role goes on: the member's in a private
    room; in a public one theirs, or a new one."""
    if target is None and room.private:
        raise ProtocolError(protocol.INVALID_FIELD, "not a member")
    return target if target is not None else Membership(room=room, user=user)


MEMBER_ACTIONS = {
    "invite": invite,
    "remove": remove,
    "ban": ban,
    "unban": unban,
    "mute": mute,
    "unmute": unmute,
    "role": set_role,
}


def depart(room, user):
    """A member leaves a private room for good; the event."""
    with transaction.atomic():
        seq = take_seq(room, SYSTEM)
        held = membership(room, user)
        if not room.private or held is None or held.banned:
            raise ProtocolError(protocol.INVALID_FIELD, "not a member")
        if protocol.is_direct(room.name):
            raise ProtocolError(protocol.INVALID_FIELD, "a direct room cannot be left")
        held.delete()
        data = {"user": user.username, "action": "departed"}
        return add_event(room, seq, Event.MEMBER, user.username, user, None, "", data)


def record(room, actor, action, subject="", target=None):
    room.actions.create(actor=actor, action=action, subject=subject, target=target)


def members(room):
    """Who belongs to ``room`` with a role or a mark: [{user, role, muted,
    banned}], owner and moderators first."""
    order = {Membership.OWNER: 0, Membership.MODERATOR: 1, Membership.MEMBER: 2}
    rows = Membership.objects.filter(room=room).values_list(
        "user__username", "role", "muted", "banned"
    )
    listed = [
        {"user": name, "role": role, "muted": muted, "banned": banned}
        for name, role, muted, banned in rows
    ]
    return sorted(listed, key=lambda m: (m["banned"], order[m["role"]], m["user"]))


# Reading history: events in seq order, messages with their reactions now.


def latest(room, limit):
    newest = Event.objects.filter(room=room).order_by("-seq")[:limit]
    return wire(room, reversed(newest))


def after(room, seq, limit):
    return wire(
        room, Event.objects.filter(room=room, seq__gt=seq).order_by("seq")[:limit]
    )


def before(room, seq, limit):
    older = Event.objects.filter(room=room, seq__lt=seq).order_by("-seq")[:limit]
    return wire(room, reversed(older))


def wire(room, events):
    events = list(events)
    messages = [e.seq for e in events if e.kind == Event.MESSAGE and not e.deleted]
    reactions = {}
    if messages:
        rows = room.reaction_set.filter(target__in=messages).order_by("author")
        for target, emoji, author in rows.values_list("target", "emoji", "author"):
            reactions.setdefault(target, {}).setdefault(emoji, []).append(author)
    summaries = threads(room, [e for e in events if e.replies])
    return [
        e.wire(room.name, reactions.get(e.seq), summaries.get(e.seq)) for e in events
    ]


def threads(room, roots):
    """The thread summary of each of ``roots`` (messages with replies):
    {seq: {replies, last_id, latest}}, ``latest`` being its newest
    CHAT_THREAD_LATEST live replies, oldest first, as {id, author, text, ts}."""
    if not roots:
        return {}
    ranked = (
        Event.objects.filter(
            room=room, thread__in=[r.seq for r in roots], deleted=False
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=F("thread"), order_by=F("seq").desc())
        )
        .filter(rank__lte=settings.CHAT_THREAD_LATEST)
        .order_by("seq")
    )
    latest = {}
    for reply in ranked:
        latest.setdefault(reply.thread, []).append(
            {
                "id": reply.seq,
                "author": reply.author,
                "text": reply.text,
                "ts": reply.ts,
            }
        )
    return {
        root.seq: {
            "replies": root.replies,
            "last_id": latest[root.seq][-1]["id"] if root.seq in latest else None,
            "latest": latest.get(root.seq, []),
        }
        for root in roots
    }


def thread(room, user, root, after, limit):
    """The thread of message ``root``: the root, and its replies after id
    ``after`` oldest first, up to ``limit``; whether there are more, and how
    many of its replies ``user`` has not read and how many of those name them."""
    found = Event.objects.filter(room=room, seq=root, kind=Event.MESSAGE).first()
    if found is None:
        raise ProtocolError(protocol.UNKNOWN_MESSAGE)
    replies = Event.objects.filter(room=room, thread=root, seq__gt=after or 0)
    page = list(replies.order_by("seq")[: limit + 1])
    read = read_position(room, user) or 0
    unread = Event.objects.filter(room=room, thread=root, seq__gt=read, deleted=False)
    if user.is_authenticated:
        unread = unread.exclude(user=user)
    mentions = Mention.objects.filter(
        room=room, name=user_name(user), seq__in=unread.values("seq")
    )
    return {
        "type": "thread",
        "room": room.name,
        "id": root,
        "root": wire(room, [found])[0],
        "replies": wire(room, page[:limit]),
        "more": len(page) > limit,
        "unread": unread.count() if user.is_authenticated else None,
        "mentions": mentions.count() if user.is_authenticated else None,
    }


def user_name(user):
    return user.username if user.is_authenticated else ""


def last_seq(room):
    return Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True)[0]


def standing(room, user):
    """What a joining user is told of the room besides its history: its
    epoch and newest id, their role, whether they are muted, how far they
    have read, and in a direct room how far the other person has."""
    epoch, last, private = Room.objects.filter(pk=room.pk).values_list(
        "epoch", "last_seq", "private"
    )[0]
    held = membership(room, user)
    direct = protocol.is_direct(room.name) and user.is_authenticated
    return {
        "epoch": epoch,
        "last_id": last,
        "private": private,
        "role": None if held is None or held.banned else held.role,
        "muted": held is not None and held.muted,
        "read": read_position(room, user),
        "seen": read_positions(room, but=user) if direct else {},
    }


# Read state and unread counts.


def mark_read(room, user, seq):
    """Move ``user``'s read position in ``room`` up to ``seq`` (never back);
    the position, and the unread messages and mentions after it."""
    if not user.is_authenticated:
        raise ProtocolError(protocol.LOGIN_REQUIRED)
    seq = max(0, min(seq, last_seq(room)))
    with transaction.atomic():
        state, _ = ReadState.objects.select_for_update().get_or_create(
            room=room, user=user
        )
        if seq > state.seq:
            state.seq = seq
            state.save(update_fields=["seq"])
    unread, mentions = unread_in(room, user)
    return state.seq, unread, mentions


def read_position(room, user):
    if not user.is_authenticated:
        return None
    found = ReadState.objects.filter(room=room, user=user).values_list("seq", flat=True)
    return found.first() or 0


def read_positions(room, but):
    """Others' read positions in ``room``: {username: seq}."""
    rows = ReadState.objects.filter(room=room).exclude(user=but)
    return dict(rows.values_list("user__username", "seq"))


def unread_in(room, user):
    rows = rooms_of(user, only=room.pk)
    return (rows[0]["unread"], rows[0]["mentions"]) if rows else (0, 0)


ROOMS = """
SELECT r.name, r.private, r.last_seq, r.epoch, COALESCE(s.seq, 0), m.role,
  (SELECT COUNT(*) FROM (
     SELECT 1 FROM {event} e
     WHERE e.room_id = r.id AND e.kind = 0 AND NOT e.deleted
       AND e.seq > COALESCE(s.seq, 0) AND (e.user_id IS NULL OR e.user_id <> %(user)s)
     LIMIT %(cap)s) unread),
  (SELECT COUNT(*) FROM (
     SELECT 1 FROM {mention} x
     WHERE x.name = %(name)s AND x.room_id = r.id AND x.seq > COALESCE(s.seq, 0)
     LIMIT %(cap)s) mentions)
FROM {room} r
LEFT JOIN {membership} m ON m.room_id = r.id AND m.user_id = %(user)s
LEFT JOIN {read} s ON s.room_id = r.id AND s.user_id = %(user)s
WHERE (m.banned IS NULL OR NOT m.banned) AND (NOT r.private OR m.id IS NOT NULL)
  {only}
ORDER BY r.name
"""


def rooms_of(user, only=None):
    """Public rooms, and the private ones ``user`` belongs to, with the
    unread messages and mentions after their read position (at most
    CHAT_UNREAD_CAP each)."""
    if not user.is_authenticated:
        rows = Room.objects.filter(private=False).values_list(
            "name", "last_seq", "epoch"
        )
        return [
            {"name": n, "last_id": last, "epoch": epoch, "private": False}
            for n, last, epoch in rows
        ]
    sql = ROOMS.format(
        event=Event._meta.db_table,
        mention=Mention._meta.db_table,
        room=Room._meta.db_table,
        membership=Membership._meta.db_table,
        read=ReadState._meta.db_table,
        only="" if only is None else "AND r.id = %(only)s",
    )
    params = {
        "user": user.pk,
        "name": user.username,
        "cap": settings.CHAT_UNREAD_CAP,
        "only": only,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "name": name,
            "last_id": last,
            "epoch": epoch,
            "private": bool(private),
            "read": read,
            "role": role,
            "unread": unread,
            "mentions": mentions,
        }
        for name, private, last, epoch, read, role, unread, mentions in rows
    ]


def email_when_away(user, chosen=None):
    """Whether ``user`` is emailed what they miss while away, after setting
    it to ``chosen`` (None leaves it)."""
    if chosen is not None:
        Preferences.objects.update_or_create(
            user=user, defaults={"email_when_away": chosen}
        )
        return chosen
    found = Preferences.objects.filter(user=user)
    chosen = found.values_list("email_when_away", flat=True).first()
    return True if chosen is None else chosen
