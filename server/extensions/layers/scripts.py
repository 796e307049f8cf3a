"""The Lua scripts the inbox layer runs in Redis, each one atomic.

Group keys are sorted sets whose members are ``w:<worker>`` (a worker process
with members of the group) or ``c:<channel>`` (a named channel), scored by the
time, on Redis's clock, after which the membership is void.
"""

from server.extensions.redis_connections import CLOCK

# KEYS: group keys. ARGV[1]: the member; ARGV[2]: seconds it stays a member.
# Returns the 1-based indexes of the keys it was not already in, which for a
# refresh means the membership had lapsed and messages may have gone past it.
JOIN = (
    CLOCK
    + """
local lifetime = tonumber(ARGV[2])
local lapsed = {}
for index, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZADD', key, now + lifetime, ARGV[1]) == 1 then
    table.insert(lapsed, index)
  end
  if redis.call('TTL', key) < lifetime then
    redis.call('EXPIRE', key, math.ceil(lifetime))
  end
end
return lapsed
"""
)

# KEYS[1]: the group key. ARGV[1]: the packed message; ARGV[2]: the prefix of
# worker inbox keys; ARGV[3]: seconds an inbox outlives its last message.
# One copy of the message per worker process, however many members it has
# there. Returns the named channels in the group, which may live on other
# Redis hosts, for the caller to push to.
SEND_TO_GROUP = (
    CLOCK
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local named = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local name = string.sub(member, 3)
  if string.sub(member, 1, 1) == 'w' then
    local inbox = ARGV[2] .. name
    redis.call('RPUSH', inbox, ARGV[1])
    redis.call('EXPIRE', inbox, ARGV[3])
  else
    table.insert(named, name)
  end
end
return named
"""
)

# KEYS[1]: a list. ARGV[1]: the packed message; ARGV[2]: seconds the list
# outlives its last message; ARGV[3]: the most it may hold, 0 for no limit.
# Returns 0 when the list is full and nothing was pushed.
PUSH = """
local capacity = tonumber(ARGV[3])
if capacity > 0 and redis.call('LLEN', KEYS[1]) >= capacity then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def register(client):
    """The scripts above, by name, registered on one Redis client."""
    return {
        "join": client.register_script(JOIN),
        "send_to_group": client.register_script(SEND_TO_GROUP),
        "push": client.register_script(PUSH),
    }
