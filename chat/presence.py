"""Who is in each room, across worker processes.

A user is present while at least one of their connections is: two tabs count
once, and the user leaves when the last one closes. With Redis each
connection's entry carries an expiry on Redis's clock that its worker renews
every third of CHAT_PRESENCE_TTL; a killed worker's entries lapse, and the
next sweep by any worker with members in the room removes them and announces
who left: within 4/3 of the TTL. Without Redis, presence is this process's own.
"""

import asyncio
import logging
from collections import defaultdict

from django.conf import settings
from redis.exceptions import RedisError

from server.extensions import redis_connections
from server.extensions.layers import ChannelLayerUnavailable
from server.extensions.redis_connections import CLOCK

logger = logging.getLogger(__name__)

# KEYS[1]: the room's users (zset, scored by expiry); KEYS[2]: this user's
# connections (zset, scored by expiry). ARGV: connection, user, TTL seconds.
# Returns 1 if the user was not present before.
JOIN = (
    CLOCK
    + """
local expiry = now + tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local was_present = redis.call('ZCARD', KEYS[2]) > 0
redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[2])
redis.call('EXPIRE', KEYS[2], math.ceil(ARGV[3]))
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[3]))
if was_present then return 0 end
return 1
"""
)

# Same keys and ARGV. Returns 1 if that was the user's last connection.
LEAVE = (
    CLOCK
    + """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
return 1
"""
)

# KEYS[1]: the room's users. ARGV[1]: the prefix of users' connection keys.
# Removes the users whose every connection lapsed; returns them.
SWEEP = (
    CLOCK
    + """
local gone = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local connections = ARGV[1] .. user
  redis.call('ZREMRANGEBYSCORE', connections, '-inf', now)
  if redis.call('ZCARD', connections) == 0 then
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
  end
end
return gone
"""
)

MEMBERS = (
    CLOCK
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""
)


class LocalPresence:
    """Presence within this process: for the in-memory channel layer."""

    ttl = None

    def __init__(self):
        self.rooms = defaultdict(lambda: defaultdict(set))

    async def join(self, room, user, connection):
        connections = self.rooms[room][user]
        connections.add(connection)
        return len(connections) == 1

    async def leave(self, room, user, connection):
        users = self.rooms[room]
        users[user].discard(connection)
        if users[user]:
            return False
        del users[user]
        return True

    async def members(self, room):
        return sorted(self.rooms[room])

    async def sweep(self, room):
        return []


class RedisPresence:
    """Presence in Redis; ``renew`` keeps this process's entries alive."""

    def __init__(self, client, ttl, prefix="chat:presence"):
        self.client = client
        self.ttl = ttl
        self.prefix = prefix
        self.scripts = {
            name: client.register_script(source)
            for name, source in (
                ("join", JOIN),
                ("leave", LEAVE),
                ("sweep", SWEEP),
                ("members", MEMBERS),
            )
        }

    def _keys(self, room, user):
        return [f"{self.prefix}:{room}", f"{self.prefix}:{room}:user:{user}"]

    async def join(self, room, user, connection):
        keys = self._keys(room, user)
        return bool(await self.scripts["join"](keys, [connection, user, self.ttl]))

    async def leave(self, room, user, connection):
        keys = self._keys(room, user)
        return bool(await self.scripts["leave"](keys, [connection, user, self.ttl]))

    async def members(self, room):
        users = await self.scripts["members"]([f"{self.prefix}:{room}"])
        return sorted(user.decode() for user in users)

    async def sweep(self, room):
        gone = await self.scripts["sweep"](
            [f"{self.prefix}:{room}"], [f"{self.prefix}:{room}:user:"]
        )
        return [user.decode() for user in gone]


class Presence:
    """This process's side of presence: its own entries, renewed while they
    last, and the sweep that announces users whose worker died."""

    def __init__(self, backend, announce_left):
        self.backend = backend
        self.announce_left = announce_left
        # group -> (room name, {(user, connection)}) of this process's members
        self.entries = {}
        self.renewing = None

    async def enter(self, group, room, user, connection):
        """Add a connection; True if its user was not present before."""
        self.entries.setdefault(group, (room, set()))[1].add((user, connection))
        if self.backend.ttl and self.renewing is None:
            self.renewing = redis_connections.heartbeat(self.backend.ttl, self.renew)
        return await self.backend.join(group, user, connection)

    async def exit(self, group, user, connection):
        """Remove a connection; True if it was its user's last."""
        room, present = self.entries.get(group, (None, set()))
        present.discard((user, connection))
        if not present:
            self.entries.pop(group, None)
        return await self.backend.leave(group, user, connection)

    async def members(self, group):
        return await self.backend.members(group)

    async def renew(self):
        """Renew this process's entries (a heartbeat, every third of the TTL)
        and sweep their rooms for users whose every connection lapsed."""
        for group, (room, present) in list(self.entries.items()):
            try:
                for user, connection in list(present):
                    await self.backend.join(group, user, connection)
                gone = await self.backend.sweep(group)
                if gone:
                    await self.announce_left(group, room, gone)
            except (RedisError, OSError, ChannelLayerUnavailable):
                # Redis away: the consumers are told by the channel layer;
                # renewing resumes when it answers.
                logger.warning("could not renew presence in %s", room)


_by_loop = {}


def presence_for(channel_layer):
    """This process's Presence (one per event loop): in Redis when the channel
    layer is, else in this process."""
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop.clear()

        async def announce_left(group, room, users):
            await channel_layer.group_send(
                group,
                {"type": "chat.presence", "room": room, "joined": [], "left": users},
            )

        _by_loop[loop] = Presence(backend(), announce_left)
    return _by_loop[loop]


def backend():
    hosts = redis_connections.layer_hosts()
    if not hosts:
        return LocalPresence()
    # The layer's first host: the same client, and pool, as the layer's.
    client = redis_connections.client(hosts[0])
    return RedisPresence(client, settings.CHAT_PRESENCE_TTL)
