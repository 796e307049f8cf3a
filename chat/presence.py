"""Who is in each chat room, across worker processes (server/extensions/presence.py),
and the announcement of users whose worker died: within 4/3 of
PRESENCE_TTL."""

from server.extensions.presence import for_this_loop
from server.extensions.signals import send_logged

from .signals import member_left


def presence_for(channel_layer):
    """This process's room presence."""

    async def announce_left(group, room, users):
        await channel_layer.group_send(
            group,
            {"type": "chat.presence", "room": room, "joined": [], "left": users},
        )
        for user in users:
            await send_logged(member_left, room=room, user=user)

    return for_this_loop("chat:presence", announce_left)


def user_group(user_id):
    """The group of a registered user's chat connections, on every worker."""
    return f"chat.user.{user_id}"
