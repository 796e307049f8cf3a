"""Every signal the service sends, in one place for receivers to import.

    from django.dispatch import receiver
    from realtime.signals import message_stored

    @receiver(message_stored)
    def index(sender, room, message, **kwargs):
        search.add(room, message["id"], message["text"])

A receiver runs in a worker thread of the server (it may use the database); one
that raises is logged with its traceback and changes nothing for the clients.
"""

from chat.signals import member_joined, member_left, message_stored, missed_messages
from server.extensions.signals import user_connected, user_disconnected

__all__ = [
    "member_joined",
    "member_left",
    "message_stored",
    "missed_messages",
    "user_connected",
    "user_disconnected",
]
