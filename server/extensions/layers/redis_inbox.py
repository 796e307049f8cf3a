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

- Each worker process has an inbox, a Redis list, in every partition (below:
  one per Redis host, or a share of a Redis Cluster's slots). A group
  is a sorted set of the worker processes that have members in it. A group
  send is one script that pushes one copy of the message into the inbox of
  each of those processes; a send to one channel pushes into its process's
  inbox.
- One reader task per partition, started with the process's first channel and
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

Partitions. The keys are spread over *partitions*, each a key prefix on one
Redis host: with several hosts (``REDIS_SHARDS``) a partition per host; on a
Redis Cluster, ``cluster_partitions`` of them on the one cluster, each prefix a
hash tag (``echo:{3.0}:``) whose slot lies in the partition's share of the
16,384, so that each master serves as many. A group, its inbox copies and the
named channel's list each live in one partition, so that every script and
command touches one slot; each worker has an inbox in every partition and one
reader for each. Adding masters (and resharding) moves partitions, and so
groups, onto them.

Why per-slot inboxes rather than Redis 7's sharded pub/sub (``SPUBLISH`` to a
channel per partition, ``SSUBSCRIBE`` by each worker): a message published
while a worker's subscription is down (a failover, a reconnect) is gone, and
nothing tells the worker which ones it missed; a list keeps it until the
reader comes back, and the reader's failure is the outage the members are
told of. Measured on Redis alone, on a three-master loopback cluster
(``python -m bench --modes cluster-transport``, docs/benchmarks.md), the
lists carried as many messages a second as sharded pub/sub for somewhat more
Redis CPU per delivery: a small price for not losing messages silently. They
also keep ``CHANNEL_CAPACITY`` and ``CHANNEL_EXPIRY`` working as on one Redis.

On a cluster a node's failure is an outage of the layer as on one Redis (every
local channel is failed, the process takes a new identity), until the
cluster has promoted a replica, which the readers find on their next attempt.
The cluster client never retries a command itself (see
``redis_connections.cluster_client``): a retried push could deliver twice.

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

from server.extensions import counters, redis_connections
from server.extensions.redis_connections import cluster_tags, is_cluster

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
REDIS_ERRORS = redis_connections.ERRORS
CHANNEL, GROUP = 0, 1


class HostClient(NamedTuple):
    """One loop's client for one Redis host, and the scripts registered on it."""

    client: object
    scripts: dict


class Partition(NamedTuple):
    """A share of the layer's keys: the host holding them, and their prefix."""

    host: int
    keys: str


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
        cluster_partitions=16,
    ):
        super().__init__(
            expiry=expiry, capacity=capacity, channel_capacity=channel_capacity
        )
        self.channel_capacity = self.compile_capacities(self.channel_capacity)
        self.hosts = list(hosts)
        if not self.hosts:
            raise ValueError("RedisInboxChannelLayer needs at least one Redis host")
        self.prefix = prefix
        if is_cluster(self.hosts[0]):
            self.partitions = [
                Partition(0, f"{prefix}:{{{tag}}}:")
                for tag in cluster_tags(cluster_partitions)
            ]
        else:
            self.partitions = [
                Partition(index, f"{prefix}:") for index in range(len(self.hosts))
            ]
        self.group_expiry = group_expiry
        self.membership_ttl = membership_ttl
        self.block_seconds = block_seconds
        self.outage = Outage("Redis channel layer")
        self._loop = None  # the receiving loop
        self._session = None  # the receiving loop's tasks run while it is current
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
            index = self._partition(worker)
            pushed = await self._push(index, self._inbox(worker, index), raw, 0)
        else:
            pushed = await self._push(
                self._partition(channel),
                self._channel_key(channel),
                raw,
                self.get_capacity(channel),
            )
        if not pushed:
            raise ChannelFull(channel)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._receiving()
        if "!" in channel:
            self._require_local(channel)
        elif channel not in self._named_readers:
            key, index = self._channel_key(channel), self._partition(channel)
            self._named_readers[channel] = self._loop.create_task(
                self._read(key, channel, index)
            )
        return await self.local.receive(channel)

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
        index = self._partition(group)
        named = await self._run(
            index,
            "send_to_group",
            keys=[self._group_key(group)],
            args=[raw, self._inbox("", index), self.expiry],
        )
        for channel in named:
            name = channel.decode()
            if not await self._push(
                self._partition(name),
                self._channel_key(name),
                raw,
                self.get_capacity(name),
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
                await client.unlink(key)  # one key a call: one slot a call

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

    def _client_here(self, index):
        """This loop's client, with its scripts, for partition ``index``."""
        return self._clients_here()[self.partitions[index].host]

    # Receiving, on one loop.

    def _receiving(self):
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError(RECEIVING_RULE)
        self._stop()
        self._loop = loop
        self._session = object()
        self._counter = itertools.count()
        self.local = LocalChannels(self.get_capacity)
        self._membership = asyncio.Lock()
        self._clients = [host.client for host in self._clients_here()]
        self._named_readers = {}
        self._answering = set()  # partitions whose readers answered in an outage
        session = self._session
        self._tasks = [
            redis_connections.heartbeat(
                self.membership_ttl, self._beat, lambda: self._session is session
            )
        ]
        self._new_identity()

    def _new_identity(self):
        """A worker id, and readers of its inbox; earlier readers stop."""
        self.worker = "w" + secrets.token_hex(8)
        self._registered = set()
        for index in range(len(self.partitions)):
            inbox = self._inbox(self.worker, index)
            self._tasks.append(self._loop.create_task(self._read(inbox, None, index)))

    def _stop(self):
        if self._loop is None:
            return
        for task in [*self._tasks, *self._named_readers.values()]:
            # A task of a loop that has since closed cannot be cancelled; it
            # will never run again either.
            with contextlib.suppress(RuntimeError):
                task.cancel()
        self._loop = self._session = None

    # The process's own tasks.

    async def _read(self, key, channel, index):
        """Move messages from a Redis list in partition ``index`` into local
        queues, until the layer stops receiving.

        ``channel`` is None for this process's inbox, whose messages say which
        channel or group they are for; else the named channel the list holds.
        """
        client = self._clients[self.partitions[index].host]
        session = self._session
        # The loop ends at _stop even if the cancel never arrives: redis-py may
        # turn it into an error of its own and uncancel the task.
        while self._session is session and (
            channel is not None or key == self._inbox(self.worker, index)
        ):
            try:
                await redis_connections.ready(client)
                if self.outage.down:
                    # One key, so that on a cluster it asks that key's master.
                    await client.llen(key)
                    self._answered(index)
                popped = await redis_connections.pop_batch(
                    client, key, self.block_seconds, READ_BATCH
                )
            except Exception as error:
                if asyncio.current_task().cancelling():
                    raise
                if self._session is not session:
                    # Stopped mid-read, the cancel turned into this error.
                    return
                # Whatever failed, this read cannot vouch for the messages;
                # the reader must outlive it, or the process hears nothing.
                if not isinstance(error, REDIS_ERRORS):
                    logger.exception("reading %s failed", key)
                self._lost(error, client)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if channel is None and key != self._inbox(self.worker, index):
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

    def _lost(self, error, client):
        """Redis failed under us: no local channel can count on its messages,
        and all but the survivors are failed."""
        self.local.fail_all(ChannelLayerUnavailable(f"Redis unavailable: {error!r}"))
        self._answering = set()
        if self.outage.failed(error, redis_connections.node_name(error, client)):
            # The old memberships lapse unrefreshed; the old inbox expires.
            self._tasks = [task for task in self._tasks if not task.done()]
            self._new_identity()
            self.local.tell_survivors("layer.outage")

    def _answered(self, index):
        """Partition ``index`` answered a reader during an outage. The outage
        ends when every partition has, with no failure since: on a cluster
        failing over, some masters answer while another is still down, and
        ending at the first answer would end and start it over and over."""
        self._answering.add(index)
        if len(self._answering) == len(self.partitions):
            self._recovered()

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
        by_partition = {}
        for group in groups:
            by_partition.setdefault(self._partition(group), []).append(group)
        lapsed = []
        for index, together in by_partition.items():
            keys = [self._group_key(group) for group in together]
            added = await self._run(index, "join", keys=keys, args=[member, lifetime])
            lapsed.extend(together[position - 1] for position in added)
        return lapsed

    async def _leave_quietly(self, group):
        # Unreachable Redis: the membership lapses by itself, unrefreshed.
        if self.outage.down:
            return
        try:
            await self._command(group, "zrem", self._group_key(group), self._member)
        except ChannelLayerUnavailable:
            logger.debug("could not leave group %s; it will lapse", group)

    async def _push(self, index, key, raw, capacity):
        return await self._run(
            index, "push", keys=[key], args=[raw, self.expiry, capacity]
        )

    async def _command(self, name, command, *args):
        client = self._client_here(self._partition(name)).client
        try:
            await redis_connections.ready(client)
            return await getattr(client, command)(*args)
        except REDIS_ERRORS as error:
            raise self._failed(error, client) from error

    async def _run(self, index, script, keys, args):
        """Run ``script`` on partition ``index``; ``keys`` are all in it."""
        client, registered = self._client_here(index)
        try:
            await redis_connections.ready(client)
            result = await registered[script](keys=keys, args=args)
        except REDIS_ERRORS as error:
            raise self._failed(error, client) from error
        return result

    def _failed(self, error, client):
        """The error to raise for a failed command. On the receiving loop the
        failure is this process's outage too: its channels are failed."""
        if self._receives_here():
            self._lost(error, client)
        else:
            counters.REDIS_ERRORS.labels(
                redis_connections.node_name(error, client)
            ).inc()
        return ChannelLayerUnavailable(f"Redis unavailable: {error!r}")

    # Names.

    def _require_local(self, channel):
        if channel not in self.local.queues and worker_of(channel) != self.worker:
            raise ValueError(f"{channel} belongs to another process")

    @property
    def _member(self):
        return f"w:{self.worker}"

    def _inbox(self, worker, index):
        return f"{self.partitions[index].keys}inbox:{worker}"

    def _group_key(self, group):
        return f"{self.partitions[self._partition(group)].keys}group:{group}"

    def _channel_key(self, channel):
        return f"{self.partitions[self._partition(channel)].keys}channel:{channel}"

    def _partition(self, name):
        """Which partition holds ``name``'s keys: a group's, a named channel's,
        or the inbox a worker's own channels are sent to (it has one in every
        partition, for the groups there)."""
        return redis_connections.host_index(name, len(self.partitions))


def worker_of(channel):
    """The worker process in ``specific.<worker>!<n>``."""
    return channel[: channel.index("!")].rsplit(".", 1)[-1]
