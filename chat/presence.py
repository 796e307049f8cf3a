"""Who is in each chat room, across worker processes (server/extensions/presence.py),
and the announcement of users whose worker died: within 4/3 of
PRESENCE_TTL."""

import asyncio

from django.conf import settings

from server.extensions.presence import Presence, backend
from server.extensions.signals import send_logged

from .signals import member_left

_by_loop = {}


def presence_for(channel_layer):
    """This process's room presence (one per event loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop.clear()

        async def announce_left(group, room, users):
            await channel_layer.group_send(
                group,
                {"type": "chat.presence", "room": room, "joined": [], "left": users},
            )
            for user in users:
                await send_logged(member_left, room=room, user=user)

        rooms = backend(settings.PRESENCE_TTL, "chat:presence")
        _by_loop[loop] = Presence(rooms, announce_left)
    return _by_loop[loop]
