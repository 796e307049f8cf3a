"""Who is present where, across worker processes: chat's members of a room,
and which users have a connection at all.

A user is present in a place while at least one of their connections is: two
tabs count once, and the user leaves when the last one closes. With Redis each
connection's entry carries an expiry on Redis's clock that its worker renews
every third of the TTL; a killed worker's entries lapse, and the next sweep by
any worker with members there removes them and reports who left: within 4/3
of the TTL. Without Redis, presence is this process's own.

Two backends behind one small interface (join, leave, renew, members,
present, sweep), as Centrifugo's PresenceManager has: ``LocalPresence`` for
the in-memory channel layer and the tests, ``RedisPresence`` beside the
Redis layer.
"""

import asyncio
import logging
import weakref
from collections import defaultdict

from django.conf import settings

from server.extensions import redis_connections
from server.extensions.layers import ChannelLayerUnavailable
from server.extensions.redis_connections import CLOCK

logger = logging.getLogger(__name__)

# KEYS[1]: the place's users (zset, scored by expiry); KEYS[2]: this user's
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

# KEYS[1]: the place's users. ARGV[1]: the prefix of users' connection keys,
# which share KEYS[1]'s hash tag and so its slot on a cluster.
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

# KEYS[1]: the place's users. ARGV[1]: TTL seconds; ARGV[2]: the prefix of
# users' connection keys (KEYS[1]'s slot); then user, connection pairs.
# A worker's heartbeat: every entry it holds in the place, in one call.
RENEW = (
    CLOCK
    + """
local lifetime = tonumber(ARGV[1])
local expiry = now + lifetime
for index = 3, #ARGV, 2 do
  local connections = ARGV[2] .. ARGV[index]
  redis.call('ZADD', connections, expiry, ARGV[index + 1])
  redis.call('EXPIRE', connections, math.ceil(lifetime))
  redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[index])
end
redis.call('EXPIRE', KEYS[1], math.ceil(lifetime))
return 1
"""
)

# Entries renewed in one call: a worker's whole share of a place in a few
# calls, each short enough not to hold Redis up (a few milliseconds).
RENEW_BATCH = 500

# KEYS: as JOIN's. Returns how many of the user's connections are live.
PRESENT = (
    CLOCK
    + """
return redis.call('ZCOUNT', KEYS[2], now, '+inf')
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
        self.places = defaultdict(lambda: defaultdict(set))

    async def join(self, place, user, connection):
        connections = self.places[place][user]
        connections.add(connection)
        return len(connections) == 1

    async def leave(self, place, user, connection):
        users = self.places[place]
        users[user].discard(connection)
        if users[user]:
            return False
        del users[user]
        return True

    async def members(self, place):
        return sorted(self.places[place])

    async def present(self, place, user):
        return bool(self.places[place].get(user))

    async def renew(self, place, entries):
        pass

    async def sweep(self, place):
        return []


class RedisPresence:
    """Presence in Redis; ``renew`` keeps this process's entries alive. Every
    failure of Redis raises ChannelLayerUnavailable, as the layer's do."""

    def __init__(self, client, ttl, prefix):
        self.client = client
        self.ttl = ttl
        self.prefix = prefix
        self.scripts = {
            name: client.register_script(source)
            for name, source in (
                ("join", JOIN),
                ("leave", LEAVE),
                ("renew", RENEW),
                ("sweep", SWEEP),
                ("members", MEMBERS),
                ("present", PRESENT),
            )
        }

    async def _run(self, script, keys, args=()):
        try:
            await redis_connections.ready(self.client)
            return await self.scripts[script](keys, args)
        except redis_connections.ERRORS as error:
            raise ChannelLayerUnavailable(f"presence: {error!r}") from error

    def _place(self, place):
        # A hash tag: on a Redis Cluster, a place and its users' keys share
        # one slot, as the scripts need; places spread over the masters.
        return f"{self.prefix}:{{{place}}}"

    def _users(self, place):
        """The prefix of the place's users' connection keys, in its slot."""
        return f"{self._place(place)}:user:"

    def _keys(self, place, user):
        return [self._place(place), f"{self._users(place)}{user}"]

    async def join(self, place, user, connection):
        keys = self._keys(place, user)
        return bool(await self._run("join", keys, [connection, user, self.ttl]))

    async def leave(self, place, user, connection):
        keys = self._keys(place, user)
        return bool(await self._run("leave", keys, [connection, user, self.ttl]))

    async def renew(self, place, entries):
        """Renew ``(user, connection)`` entries of ``place``."""
        pairs = [value for entry in entries for value in entry]
        args = [self.ttl, self._users(place), *pairs]
        await self._run("renew", [self._place(place)], args)

    async def members(self, place):
        users = await self._run("members", [self._place(place)])
        return sorted(user.decode() for user in users)

    async def present(self, place, user):
        """Whether ``user`` has a live connection in ``place``."""
        return bool(await self._run("present", self._keys(place, user)))

    async def sweep(self, place):
        gone = await self._run("sweep", [self._place(place)], [self._users(place)])
        return [user.decode() for user in gone]


class Presence:
    """This process's side of presence: its own entries, renewed while they
    last, and the sweep that reports users whose worker died to
    ``announce_left(group, place, users)``."""

    def __init__(self, backend, announce_left):
        self.backend = backend
        self.announce_left = announce_left
        # group -> (place name, {(user, connection)}) of this process's members
        self.entries = {}
        self.renewing = None

    async def enter(self, group, place, user, connection):
        """Add a connection; True if its user was not present before."""
        self.entries.setdefault(group, (place, set()))[1].add((user, connection))
        if self.backend.ttl and self.renewing is None:
            self.renewing = redis_connections.heartbeat(self.backend.ttl, self.renew)
        return await self.backend.join(group, user, connection)

    async def exit(self, group, user, connection):
        """Remove a connection; True if it was its user's last."""
        place, present = self.entries.get(group, (None, set()))
        present.discard((user, connection))
        if not present:
            self.entries.pop(group, None)
        return await self.backend.leave(group, user, connection)

    async def members(self, group):
        return await self.backend.members(group)

    async def present(self, group, user):
        return await self.backend.present(group, user)

    async def renew(self):
        """Renew this process's entries (a heartbeat, every third of the TTL)
        and sweep the places for users whose every connection lapsed."""
        for group, (place, present) in list(self.entries.items()):
            entries = list(present)
            try:
                for start in range(0, len(entries), RENEW_BATCH):
                    batch = entries[start : start + RENEW_BATCH]
                    await self.backend.renew(group, batch)
                gone = await self.backend.sweep(group)
                if gone:
                    await self.announce_left(group, place, gone)
            except ChannelLayerUnavailable:
                # Redis away: the consumers are told by the channel layer;
                # renewing resumes when it answers.
                logger.warning("could not renew presence in %s", place)


def backend(ttl, prefix):
    """Presence in Redis when the channel layer is there, else this process's."""
    hosts = redis_connections.layer_hosts()
    if not hosts:
        return LocalPresence()
    # The layer's first host: the same client, and pool, as the layer's.
    return RedisPresence(redis_connections.client(hosts[0]), ttl, prefix)


# event loop -> {key prefix: Presence}; a loop that is gone takes its own.
_by_loop = weakref.WeakKeyDictionary()


def for_this_loop(prefix, announce_left):
    """This process's Presence under ``prefix`` for the running event loop:
    one for all of the loop's connections, so that one heartbeat renews them.
    The first caller's ``announce_left`` is the one kept."""
    found = _by_loop.setdefault(asyncio.get_running_loop(), {})
    if prefix not in found:
        found[prefix] = Presence(backend(settings.PRESENCE_TTL, prefix), announce_left)
    return found[prefix]
