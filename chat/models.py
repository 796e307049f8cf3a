"""Rooms, who belongs to them, and their history.

A room's history is one sequence: every row of ``Event`` takes the room's
next ``seq`` (its id on the wire), counting from 1 with no gaps. Messages are
events, and so is every later change to one (an edit, a deletion, a reaction)
and to the room's members. A client that knows the last id it saw asks for
what came after it, and changes come with the messages."""

import secrets
from datetime import UTC
from urllib.parse import quote

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_epoch():
    return secrets.token_hex(4)


class Room(models.Model):
    name = models.CharField(max_length=320, unique=True)
    # A private room is joined, read and posted in by its members only; a
    # direct-message room is a private room of two with no owner.
    private = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_chat_rooms",
    )
    # The seq of the newest event; the next one gets last_seq + 1.
    last_seq = models.BigIntegerField(default=0)
    # Changes when the room's history cannot continue from what a client saw
    # (the room was made again, or restored from a backup: chat_new_epoch).
    epoch = models.CharField(max_length=16, default=new_epoch)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def group(self):
        """The channel-layer group of the room's members (names are too free)."""
        return f"chat.{self.pk}"


class Membership(models.Model):
    """A user's place in a room: a member of a private room (with a role), or,
    in any room, a moderator, a muted or a banned user."""

    OWNER, MODERATOR, MEMBER = "owner", "moderator", "member"
    ROLES = [(OWNER, "owner"), (MODERATOR, "moderator"), (MEMBER, "member")]

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_rooms"
    )
    role = models.CharField(max_length=16, choices=ROLES, default=MEMBER)
    muted = models.BooleanField(default=False)
    # A banned user is no member, and may not join again until unbanned.
    banned = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_one_membership")
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_membership_user")]

    def __str__(self):
        return f"{self.user} in {self.room} ({self.role})"

    @property
    def moderates(self):
        return self.role in (self.OWNER, self.MODERATOR) and not self.banned


class Event(models.Model):
    MESSAGE, EDIT, DELETE, REACTION, MEMBER = range(5)
    KINDS = [
        (MESSAGE, "message"),
        (EDIT, "edit"),
        (DELETE, "delete"),
        (REACTION, "reaction"),
        (MEMBER, "member"),
    ]

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.PositiveSmallIntegerField(choices=KINDS, default=MESSAGE)
    # Who did it: a message's author, an editor, a reactor, a moderator.
    author = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # A message's text; an edit's new text; a reaction's emoji. Emptied when
    # the message is deleted, with the texts of its edits.
    text = models.TextField()
    # The seq of the message an edit, deletion or reaction changes.
    target = models.BigIntegerField(null=True, blank=True)
    # A reply's thread: the seq of the message it replies to (a reply to a
    # reply joins the same thread). None for a message of the room itself.
    thread = models.BigIntegerField(null=True, blank=True)
    # A thread's root: how many live replies it has, kept with each reply
    # stored or deleted, so that history asks for threads only where there are.
    replies = models.PositiveIntegerField(default=0, db_default=0)
    # What else the event's wire form says (a reaction's users, a member change).
    data = models.JSONField(null=True, blank=True)
    # A message's or an edit's text as formatted HTML (chat/formatting.py),
    # rendered once when stored; "" once deleted.
    # The database's default too, for rows inserted by SQL of their own (the
    # unread benchmark's bulk history).
    html = models.TextField(blank=True, default="", db_default="")
    edited = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    # The sender's own id for the message: a resend is answered, not stored.
    client_id = models.CharField(max_length=64, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            # Serves "since", "before" and the latest N, and keeps ids unique.
            models.UniqueConstraint(fields=["room", "seq"], name="chat_room_seq"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="chat_resend_stored_once",
            ),
        ]
        indexes = [
            # Unread counts: a room's live messages after a position, and
            # their authors, read from the index alone on PostgreSQL.
            models.Index(
                fields=["room", "seq"],
                include=["user"],
                condition=Q(kind=0, deleted=False),
                name="chat_unread",
            ),
            # A thread's replies in order, and its latest ones.
            models.Index(
                fields=["room", "thread", "seq"],
                condition=Q(thread__isnull=False),
                name="chat_thread",
            ),
        ]

    def __str__(self):
        return f"{self.room.name}#{self.seq} {self.get_kind_display()} {self.author}"

    @property
    def ts(self):
        """When it happened, as the wire gives it: ISO 8601 in UTC, to the ms."""
        return self.created.astimezone(UTC).isoformat(timespec="milliseconds")

    def wire(self, room_name, reactions=None, thread=None):
        """The event as the protocol sends it; a message's ``reactions``
        (emoji -> users) are its current ones, and a thread root's ``thread``
        summary (storage.threads) is its replies now."""
        wire = {
            "type": self.get_kind_display(),
            "room": room_name,
            "id": self.seq,
            "ts": self.ts,
        }
        if self.kind == self.MESSAGE:
            wire.update(
                author=self.author,
                text=self.text,
                html=self.html,
                client_id=self.client_id,
                edited=self.edited,
                deleted=self.deleted,
                reactions=reactions or {},
                reply_to=self.thread,
                thread=thread,
                files=(self.data or {}).get("files", []),
            )
        elif self.kind == self.EDIT:
            wire.update(
                target=self.target, author=self.author, text=self.text, html=self.html
            )
        elif self.kind == self.DELETE:
            wire.update(target=self.target, by=self.author)
        elif self.kind == self.REACTION:
            wire.update(target=self.target, by=self.author, emoji=self.text)
            wire.update(self.data)
        else:
            wire.update(by=self.author, **self.data)
        return wire


class Reaction(models.Model):
    """Who reacted to a message with which emoji, now."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    target = models.BigIntegerField()
    emoji = models.CharField(max_length=32)
    author = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "target", "emoji", "author"], name="chat_react_once"
            )
        ]


class Mention(models.Model):
    """``@name`` in a live message, for the unread mentions of ``name``."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    seq = models.BigIntegerField()
    name = models.CharField(max_length=150)

    class Meta:
        indexes = [models.Index(fields=["name", "room", "seq"], name="chat_mentions")]


class ReadState(models.Model):
    """How far a user has read in a room, shared by all their connections."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="chat_read_once")
        ]


class ModerationAction(models.Model):
    """What a room's owner or moderator did, to whom, and when."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="actions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="chat_actions",
    )
    action = models.CharField(max_length=16)
    # The user acted on, or the seq of the message deleted.
    subject = models.CharField(max_length=150, blank=True)
    target = models.BigIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return (
            f"{self.actor} {self.action} {self.subject or self.target} in {self.room}"
        )


def new_upload_id():
    return secrets.token_urlsafe(16)


class Upload(models.Model):
    """A file a user uploaded into a room (chat/files.py), kept with Django's
    storage API. It belongs to its uploader alone until a message of theirs
    refers to it (``seq``); then to whoever may read the room, until that
    message is deleted, which deletes the file."""

    # Unguessable, though a link is still checked against the room's readers.
    id = models.CharField(primary_key=True, max_length=32, default=new_upload_id)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="uploads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # The message that refers to it; None until one does.
    seq = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=255)
    # What its bytes are, whatever its name says.
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    file = models.FileField(max_length=400)
    # An image's size, and its thumbnail.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.FileField(max_length=400, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["room", "seq"], name="chat_upload_message")]

    def __str__(self):
        return f"{self.name} in {self.room}"

    @property
    def wire(self):
        """The file as a message's ``files`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "url": f"/chat/files/{self.id}/{quote(self.name)}",
            "thumbnail": f"/chat/thumbnails/{self.id}" if self.thumbnail else None,
        }


class Preferences(models.Model):
    """What a user chose for the chat: whether to be emailed when away."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="chat_preferences",
    )
    email_when_away = models.BooleanField(default=True)


class AwayNotification(models.Model):
    """A mention or direct message for a user who had no connection when it
    arrived (chat/away.py): emailed by the notifier once ``due``, with the
    others the user has waiting, unless they read it first.

    ``state`` moves one way: pending, then sending (committed before the email
    goes to the SMTP server), then sent. A notifier that stops mid-send leaves
    rows sending; once their lease is over they become unconfirmed and are
    never sent again, so an email may be lost to a crash but never doubled."""

    PENDING, SENDING, SENT, DROPPED, UNCONFIRMED = (
        "pending",
        "sending",
        "sent",
        "dropped",
        "unconfirmed",
    )
    MENTION, DIRECT = "mention", "direct"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    seq = models.BigIntegerField()
    reason = models.CharField(max_length=8)
    due = models.DateTimeField()
    state = models.CharField(max_length=12, default=PENDING)
    # When a notifier took it to send, and the email's Message-ID.
    claimed = models.DateTimeField(null=True, blank=True)
    email_id = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "room", "seq"], name="chat_notify_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["due"],
                condition=Q(state="pending"),
                name="chat_notify_due",
            ),
            models.Index(
                fields=["claimed"],
                condition=Q(state="sending"),
                name="chat_notify_sending",
            ),
        ]
