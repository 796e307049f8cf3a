"""Rooms and their messages. A message's ``seq`` is its id on the wire: it
counts from 1 in each room, with no gaps, so a client can see what it missed."""

from datetime import UTC

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Room(models.Model):
    name = models.CharField(max_length=320, unique=True)
    # Private rooms (direct messages) are joined and read by members only.
    private = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="chat_rooms"
    )
    # The seq of the newest message; the next one gets last_seq + 1.
    last_seq = models.BigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def group(self):
        """The channel-layer group of the room's members (names are too free)."""
        return f"chat.{self.pk}"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    author = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField()
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

    def __str__(self):
        return f"{self.room.name}#{self.seq} {self.author}"

    def wire(self, room_name):
        """The message as the protocol sends it."""
        return {
            "type": "message",
            "room": room_name,
            "id": self.seq,
            "author": self.author,
            "text": self.text,
            "ts": self.created.astimezone(UTC).isoformat(timespec="milliseconds"),
            "client_id": self.client_id,
        }
