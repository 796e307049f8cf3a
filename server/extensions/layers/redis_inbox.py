"""A Redis channel layer in which receiving belongs to the process, not to a consumer.

Why not channels-redis's core layer: one consumer per process holds its receive
lock and runs the blocking pop for the whole process; when that consumer's
connection closes, Channels cancels its receive while the pop is in flight,
and a message Redis has already handed over is lost for every member on that
worker (https://github.com/django/channels/issues/1683; with 8 clients joining
and leaving, members who stayed missed 27 of 1,500 messages here). Its pub/sub
layer loses what is published while it reconnects, and says nothing
(https://github.com/django/channels_redis/issues/256).

How this one works:

- Each worker process has an inbox, a Redis list, on every Redis host. A group
  is a sorted set of the worker processes that have members in it. A group
  send is one script that pushes one copy of the message into the inbox of
  each of those processes; a send to one channel pushes into its process's
  inbox.
- One reader task per host, started with the process's first channel and
  owned by no consumer, pops the inbox and hands each message to the local
  queues of the channels it is for (``local.py``). Cancelling a consumer
  cancels a wait on its local queue, which loses nothing.
- A heartbeat refreshes the process's memberships every third of
  ``membership_ttl``; the memberships of a killed process lapse after
  ``membership_ttl`` and are removed from Redis by the next send or refresh.
- When a read, a send or a refresh fails (Redis down, or stalled past the
  socket timeout), every local channel is failed with
  ``ChannelLayerUnavailable``: a message may have been lost, and nobody stays
  connected believing otherwise. The process then takes a new identity, with
  a new inbox, so that a message sent before the outage (a send that timed
  out may still run when Redis wakes) never reaches a member that joined
  after it. A process whose membership lapsed while it was stalled fails the
  members of that group likewise.

Named channels (no ``!``, as ``runworker`` uses) are Redis lists of their own,
read by a task of their own in the process that receives on them.

Event loops. Receiving (``new_channel``, ``receive``, ``group_add`` of a
process channel) belongs to one event loop, the server's: the first to
receive. Another loop may receive once that one has closed (a test's, say);
while it runs, another loop's attempt raises ``RuntimeError`` naming the rule.
Sending works from any loop and any thread. On the receiving loop it goes
straight to Redis; from any other (``async_to_sync`` in a view thread outside
daphne, a management command, a Celery task) it is handed to the layer's
publisher thread (``publisher.py``), so that a plain process starts no reader,
no heartbeat and no identity, and keeps a bounded number of connections.
``close_pools()`` closes them.
"""

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
import weakref
from typing import NamedTuple

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from redis.exceptions import RedisError

from server.extensions import counters, redis_connections

from . import FASTLANE, OUTAGES, PUBLISHER, ChannelLayerUnavailable, scripts
from .local import Lane, LocalChannels
from .outage import Outage
from .publisher import Publisher

logger = logging.getLogger(__name__)

RELIES_ON = [
    (
        BaseChannelLayer,
        [
            "compile_capacities",
            "get_capacity",
            "require_valid_channel_name",
            "require_valid_group_name",
        ],
    ),
    (BaseChannelLayer.__init__, ["channel_capacity", "expiry"]),
]

# How long a read waits in Redis for a message before asking again, unless
# configured. The socket timeout (the hosts' ``socket_timeout``) must outlast
# it; together they bound how long a stalled Redis goes unnoticed.
BLOCK_SECONDS = 2
# Messages taken from an inbox per read: one round trip drains a burst.
READ_BATCH = 256
# Pause between attempts to read again after Redis failed.
RETRY_SECONDS = 0.5
REDIS_ERRORS = (RedisError, OSError)
CHANNEL, GROUP = 0, 1


class HostClient(NamedTuple):
    """One loop's client for one Redis host, and the scripts registered on it."""

    client: object
    scripts: dict


RECEIVING_RULE = (
    "RedisInboxChannelLayer receives on one event loop, the first to receive, "
    "while it runs; this is another. Send from any loop, but receive on that one "
    "(or make a layer of its own for this loop)"
)


class RedisInboxChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush", FASTLANE, OUTAGES, PUBLISHER]

    def __init__(
        self,
        hosts,
        prefix="asgi",
        expiry=60,
        group_expiry=86400,
        capacity=100,
        channel_capacity=None,
        membership_ttl=30,
        block_seconds=BLOCK_SECONDS,
    ):
        super().__init__(
            expiry=expiry, capacity=capacity, channel_capacity=channel_capacity
        )
        self.channel_capacity = self.compile_capacities(self.channel_capacity)
        self.hosts = list(hosts)
        if not self.hosts:
            raise ValueError("RedisInboxChannelLayer needs at least one Redis host")
        self.prefix = prefix
        self.group_expiry = group_expiry
        self.membership_ttl = membership_ttl
        self.block_seconds = block_seconds
        self.outage = Outage("Redis channel layer")
        self._loop = None  # the receiving loop
        self._publisher = Publisher(f"channel layer publisher ({prefix})")
        self._per_loop = weakref.WeakKeyDictionary()  # loop -> [HostClient]

    # The channel layer interface.

    async def new_channel(self, prefix="specific"):
        self._receiving()
        channel = f"{prefix}.{self.worker}!{next(self._counter)}"
        self.local.open(channel)
        return channel

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        raw = msgpack.packb([CHANNEL, channel, message], use_bin_type=True)
        await self._sending(self._send(channel, raw))

    async def _send(self, channel, raw):
        if "!" in channel:
            worker = worker_of(channel)
            pushed = await self._push(self._inbox(worker), raw, capacity=0)
        else:
            key = self._channel_key(channel)
            pushed = await self._push(key, raw, self.get_capacity(channel))
        if not pushed:
            raise ChannelFull(channel)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._receiving()
        if "!" in channel:
            self._require_local(channel)
        elif channel not in self._named_readers:
            self._named_readers[channel] = self._loop.create_task(
                self._read(self._channel_key(channel), channel)
            )
        queue = self.local.open(channel)
        try:
            return await queue.get()
        except BaseException:
            # Cancelled, or failed: either way its consumer is done with it.
            self.local.close(channel)
            raise

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            await self._sending(self._join([group], f"c:{channel}", self.group_expiry))
            return
        self._receiving()
        self._require_local(channel)
        survivor = channel in self.local.survivors
        if worker_of(channel) != self.worker and not survivor:
            raise ChannelLayerUnavailable(f"{channel} was made before an outage")
        async with self._membership:
            self.local.join(group, channel)
            if group in self._registered:
                return
            try:
                await self._join([group], self._member, self.membership_ttl)
            except ChannelLayerUnavailable:
                if survivor:
                    return  # in the group here; registered when Redis returns
                self.local.leave(group, channel)
                raise
            self._registered.add(group)

    async def group_discard(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            member = f"c:{channel}"
            await self._sending(
                self._command(group, "zrem", self._group_key(group), member)
            )
            return
        self._receiving()
        async with self._membership:
            if not self.local.leave(group, channel) or group not in self._registered:
                return
            self._registered.discard(group)
            await self._leave_quietly(group)

    async def group_send(self, group, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        # Sent with the time, for the delivery-latency histogram (one clock
        # when the workers share a host; NTP's error otherwise).
        raw = msgpack.packb([GROUP, group, message, time.time()], use_bin_type=True)
        counters.GROUP_SENDS.inc()
        await self._sending(self._group_send(group, raw))

    async def _group_send(self, group, raw):
        named = await self._script(
            group,
            "send_to_group",
            keys=[self._group_key(group)],
            args=[raw, self._inbox(""), self.expiry],
        )
        for channel in named:
            name = channel.decode()
            if not await self._push(
                self._channel_key(name), raw, self.get_capacity(name)
            ):
                logger.info(
                    "group %s: channel %s is full, message dropped", group, name
                )

    def survive_outages(self, channel):
        """Let ``channel``'s consumer ride out a Redis outage instead of being
        failed with the others: it receives a ``layer.outage`` event when one
        starts and ``layer.restored`` once its groups are registered again;
        meanwhile ``group_add`` keeps it in its groups here, and
        ``group_send_local`` reaches this process's members."""
        self._require_local(channel)
        self.local.open(channel)
        self.local.survivors.add(channel)

    def group_send_local(self, group, message):
        """Deliver ``message`` to this process's members of ``group`` only."""
        self.local.deliver_to_group(group, message)

    def fastlane(self, channel, encoders, connection):
        """Write group events for ``channel`` straight to ``connection`` when its
        consumer is idle; ``encoders`` maps handler names to encoders."""
        self._require_local(channel)
        self.local.fastlanes[channel] = Lane(encoders, connection)

    async def flush(self):
        await self._sending(self._flush())
        if self._receives_here():
            self._stop()

    async def _flush(self):
        for client, _ in self._clients_here():
            async for key in client.scan_iter(match=f"{self.prefix}:*"):
                await client.unlink(key)

    async def close_pools(self):
        """Stop receiving if this is the receiving loop, and close this loop's
        Redis connections and the publisher's (channels-redis's name for it).
        The layer may be used again afterwards; it reconnects."""
        if self._receives_here():
            self._stop()
        self._per_loop.pop(asyncio.get_running_loop(), None)
        await redis_connections.close_clients()
        await asyncio.to_thread(self._publisher.close)

    def receives(self):
        """Whether a loop of this process receives (a server's does)."""
        return self._loop is not None and not self._loop.is_closed()

    def publish_blocking(self, coroutine):
        """Run a send on the publisher thread and wait for it, from sync code."""
        return self._publisher.call(coroutine)

    # Which loop does what.

    def _receives_here(self):
        return self._loop is asyncio.get_running_loop()

    async def _sending(self, coroutine):
        """Run a send on this loop if it receives, else on the publisher's."""
        loop = asyncio.get_running_loop()
        if self._loop is loop or self._publisher.owns(loop):
            return await coroutine
        return await self._publisher.run(coroutine)

    def _clients_here(self):
        """This loop's client for each host, with the scripts registered."""
        loop = asyncio.get_running_loop()
        clients = self._per_loop.get(loop)
        if clients is None:
            clients = self._per_loop[loop] = [
                HostClient(client, scripts.register(client))
                for client in map(redis_connections.client, self.hosts)
            ]
        return clients

    def _scripts_here(self, index):
        return self._clients_here()[index].scripts

    # Receiving, on one loop.

    def _receiving(self):
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError(RECEIVING_RULE)
        self._stop()
        self._loop = loop
        self._counter = itertools.count()
        self.local = LocalChannels(self.get_capacity)
        self._membership = asyncio.Lock()
        self._clients = [host.client for host in self._clients_here()]
        self._named_readers = {}
        self._tasks = [redis_connections.heartbeat(self.membership_ttl, self._beat)]
        self._new_identity()

    def _new_identity(self):
        """A worker id, and readers of its inbox; earlier readers stop."""
        self.worker = "w" + secrets.token_hex(8)
        self._registered = set()
        inbox = self._inbox(self.worker)
        self._tasks.extend(
            self._loop.create_task(self._read(inbox, None, index))
            for index in range(len(self._clients))
        )

    def _stop(self):
        if self._loop is None:
            return
        for task in [*self._tasks, *self._named_readers.values()]:
            # A task of a loop that has since closed cannot be cancelled; it
            # will never run again either.
            with contextlib.suppress(RuntimeError):
                task.cancel()
        self._loop = None

    # The process's own tasks.

    async def _read(self, key, channel, index=None):
        """Move messages from a Redis list into local queues, for good.

        ``channel`` is None for this process's inbox, whose messages say which
        channel or group they are for; else the named channel the list holds.
        """
        client = self._clients[self._host(key) if index is None else index]
        while channel is not None or key == self._inbox(self.worker):
            try:
                if self.outage.down:
                    await client.ping()
                    self._recovered()
                popped = await client.blmpop(
                    self.block_seconds, 1, key, direction="LEFT", count=READ_BATCH
                )
            except REDIS_ERRORS as error:
                self._lost(error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if channel is None and key != self._inbox(self.worker):
                break  # an old identity's inbox: its members are gone
            for raw in popped[1] if popped else ():
                try:
                    self._dispatch(raw, channel)
                except Exception:
                    # A bad message, or a failing encoder: the reader goes on.
                    logger.exception("could not deliver a message from %s", key)

    def _dispatch(self, raw, channel):
        kind, name, message, *sent_at = msgpack.unpackb(raw, raw=False)
        if channel is not None:
            self.local.deliver(channel, message)
        elif kind == GROUP:
            if sent_at:
                counters.FANOUT_SECONDS.observe(max(0.0, time.time() - sent_at[0]))
            self.local.deliver_to_group(name, message)
        else:
            self.local.deliver(name, message)

    async def _beat(self):
        """Keep this process's memberships alive; notice when one lapsed."""
        async with self._membership:
            empty = self._registered - set(self.local.groups)
            for group in empty:
                self._registered.discard(group)
                await self._leave_quietly(group)
            groups = list(self._registered)
            try:
                lapsed = await self._join(groups, self._member, self.membership_ttl)
            except ChannelLayerUnavailable:
                return
        for group in lapsed:
            logger.warning("membership of group %s had lapsed; members told", group)
            self.local.fail_group(
                group, ChannelLayerUnavailable(f"membership of {group} lapsed")
            )

    def _lost(self, error):
        """Redis failed under us: no local channel can count on its messages,
        and all but the survivors are failed."""
        self.local.fail_all(ChannelLayerUnavailable(f"Redis unavailable: {error!r}"))
        if self.outage.failed(error):
            # The old memberships lapse unrefreshed; the old inbox expires.
            self._tasks = [task for task in self._tasks if not task.done()]
            self._new_identity()
            self.local.tell_survivors("layer.outage")

    def _recovered(self):
        if self.outage.recovered() and self.local.survivors:
            self._tasks.append(self._loop.create_task(self._restore()))

    async def _restore(self):
        """Redis is back: register this process's groups under its new identity,
        then tell the survivors that live delivery across workers is back."""
        async with self._membership:
            groups = [
                group for group in self.local.groups if group not in self._registered
            ]
            try:
                await self._join(groups, self._member, self.membership_ttl)
            except ChannelLayerUnavailable:
                return  # down again: the next recovery restores
            self._registered.update(groups)
        self.local.tell_survivors("layer.restored")

    # Redis commands, each raising ChannelLayerUnavailable when Redis fails.

    async def _join(self, groups, member, lifetime):
        """Add ``member`` to ``groups``; returns those it had not been in."""
        by_host = {}
        for group in groups:
            by_host.setdefault(self._host(group), []).append(group)
        lapsed = []
        for index, on_host in by_host.items():
            keys = [self._group_key(group) for group in on_host]
            added = await self._run(
                self._scripts_here(index)["join"], keys=keys, args=[member, lifetime]
            )
            lapsed.extend(on_host[position - 1] for position in added)
        return lapsed

    async def _leave_quietly(self, group):
        # Unreachable Redis: the membership lapses by itself, unrefreshed.
        if self.outage.down:
            return
        try:
            await self._command(group, "zrem", self._group_key(group), self._member)
        except ChannelLayerUnavailable:
            logger.debug("could not leave group %s; it will lapse", group)

    async def _push(self, key, raw, capacity):
        index = self._host(key)
        return await self._run(
            self._scripts_here(index)["push"],
            keys=[key],
            args=[raw, self.expiry, capacity],
        )

    async def _script(self, name, script, keys, args):
        return await self._run(self._scripts_here(self._host(name))[script], keys, args)

    async def _command(self, name, command, *args):
        client = self._clients_here()[self._host(name)].client
        try:
            return await getattr(client, command)(*args)
        except REDIS_ERRORS as error:
            raise self._failed(error) from error

    async def _run(self, script, keys, args):
        try:
            result = await script(keys=keys, args=args)
        except REDIS_ERRORS as error:
            raise self._failed(error) from error
        if self._receives_here():
            # Redis answers again; the readers, between attempts, will follow.
            self._recovered()
        return result

    def _failed(self, error):
        """The error to raise for a failed command. On the receiving loop the
        failure is this process's outage too: its channels are failed."""
        if self._receives_here():
            self._lost(error)
        return ChannelLayerUnavailable(f"Redis unavailable: {error!r}")

    # Names.

    def _require_local(self, channel):
        if channel not in self.local.queues and worker_of(channel) != self.worker:
            raise ValueError(f"{channel} belongs to another process")

    @property
    def _member(self):
        return f"w:{self.worker}"

    def _inbox(self, worker):
        return f"{self.prefix}:inbox:{worker}"

    def _group_key(self, group):
        return f"{self.prefix}:group:{group}"

    def _channel_key(self, channel):
        return f"{self.prefix}:channel:{channel}"

    def _host(self, name):
        """Which Redis host holds ``name``'s keys (a worker's inbox is on all)."""
        return redis_connections.host_index(name, len(self.hosts))


def worker_of(channel):
    """The worker process in ``specific.<worker>!<n>``."""
    return channel[: channel.index("!")].rsplit(".", 1)[-1]
