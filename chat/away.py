"""Reaching people who are away: a mention of a registered user, or a direct
message to one, that arrives while they have no connection open is noted,
and the notifier (chat/notifier.py, ``manage.py chat_notify``) emails it
CHAT_NOTIFY_DELAY seconds later unless they have read it by then.

Whether someone is connected is the presence of users across workers
(server/extensions/users.py): with Redis, every worker's; on the in-memory
layer, this process's."""

import logging
from datetime import timedelta

from channels.db import database_sync_to_async as db
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from server.extensions import users
from server.extensions.layers import ChannelLayerUnavailable

from . import protocol
from .models import AwayNotification, Membership

logger = logging.getLogger(__name__)


async def note(room, message):
    """Note ``message`` (its wire form, just stored in ``room``) for those
    it mentions or is sent to directly who are not connected."""
    direct = protocol.is_direct(room.name)
    names = protocol.mentioned(message["text"], message["author"])
    if not names and not direct:
        return
    wanted = await db(recipients)(room, message["author"], names, direct)
    presence = users.presence()
    away = []
    for user_id, reason in wanted:
        try:
            connected = await presence.present(users.USERS, str(user_id))
        except ChannelLayerUnavailable:
            connected = False  # unknown: the read check at sending still applies
        if not connected:
            away.append((user_id, reason))
    if away:
        await db(queue)(room, message["id"], away)


def recipients(room, author, names, direct):
    """(user id, reason) of each registered user ``room``'s message from
    ``author`` mentions or is addressed to, who may read it."""
    members = Membership.objects.filter(room=room)
    if direct:
        found = members.exclude(user__username=author).values_list("user_id", flat=True)
        return [(user_id, AwayNotification.DIRECT) for user_id in found]
    mentioned = get_user_model().objects.filter(username__in=names)
    mentioned = mentioned.exclude(username=author).exclude(
        pk__in=members.filter(banned=True).values("user_id")
    )
    if room.private:
        mentioned = mentioned.filter(pk__in=members.values("user_id"))
    return [
        (pk, AwayNotification.MENTION) for pk in mentioned.values_list("pk", flat=True)
    ]


def queue(room, seq, away):
    due = timezone.now() + timedelta(seconds=settings.CHAT_NOTIFY_DELAY)
    AwayNotification.objects.bulk_create(
        [
            AwayNotification(
                user_id=user_id, room=room, seq=seq, reason=reason, due=due
            )
            for user_id, reason in away
        ],
        ignore_conflicts=True,
    )
