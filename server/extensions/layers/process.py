"""The channel layer within one process: the embedded default, without Redis.

Channels' ``InMemoryChannelLayer`` scans every channel and every group
membership for expired entries on each send and each receive, and a group send
is one such send per member. A broadcast to N members therefore costs N², and
N connections opening or closing cost N² between them: with 5,000 idle
members of one group a worker opened 459 connections a second where it
handshakes 1,700 a second, and took 13.5 s to close them (``python -m bench
--modes connections``, docs/benchmarks.md). Its ``asyncio.Queue`` per channel
is also 3 KB of every member.

This layer keeps its channels in ``local.LocalChannels``, as the Redis inbox
layer keeps a worker's: a send, a join and a leave cost the same however many
channels there are, a group send costs one put per member (or one write, on
the fast lane), and nothing expires, because nothing is left behind: a
consumer's channel leaves its groups when it stops receiving.

Loops: its state belongs to the loop that receives (the server's), bound at
the first ``new_channel`` or ``receive``, or again, with nothing carried over,
once that loop has closed (a test's). A send from another thread's loop
(``async_to_sync`` outside daphne) is run on that loop, while it runs, and
awaited.
"""

import asyncio
import itertools

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

from . import FASTLANE
from .local import Lane, LocalChannels


class ProcessChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush", FASTLANE]

    def __init__(self, expiry=60, capacity=100, channel_capacity=None):
        super().__init__(
            expiry=expiry, capacity=capacity, channel_capacity=channel_capacity
        )
        self.local = LocalChannels(self.get_capacity)
        self._counter = itertools.count()
        self._loop = None

    async def new_channel(self, prefix="specific"):
        self._receiving()
        channel = f"{prefix}.process!{next(self._counter)}"
        self.local.open(channel)
        return channel

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._receiving()
        return await self.local.receive(channel)

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        await self._on_receiving_loop(self._send, channel, message)

    def _send(self, channel, message):
        if "!" in channel and channel not in self.local.queues:
            return  # its consumer has gone: the message is for nobody
        queue = self.local.open(channel)
        if queue.full():
            raise ChannelFull(channel)
        queue.put(message)

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._on_receiving_loop(self.local.join, group, channel)

    async def group_discard(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._on_receiving_loop(self.local.leave, group, channel)

    async def group_send(self, group, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        await self._on_receiving_loop(self.local.deliver_to_group, group, message)

    def fastlane(self, channel, encoders, connection):
        """Write group events for ``channel`` straight to ``connection`` when its
        consumer is idle; ``encoders`` maps handler names to encoders."""
        self.local.fastlanes[channel] = Lane(encoders, connection)

    async def flush(self):
        self.local = LocalChannels(self.get_capacity)

    def _receiving(self):
        running = asyncio.get_running_loop()
        if self._loop is None or self._loop.is_closed():
            if self._loop is not None:
                # Whoever received on the closed loop is gone with it.
                self.local = LocalChannels(self.get_capacity)
            self._loop = running
        elif self._loop is not running:
            raise RuntimeError(
                "the process channel layer receives on one event loop at a time"
            )

    async def _on_receiving_loop(self, function, *args):
        loop = self._loop
        if loop is None or not loop.is_running() or loop is asyncio.get_running_loop():
            return function(*args)

        async def there():
            return function(*args)

        handed = asyncio.run_coroutine_threadsafe(there(), loop)
        return await asyncio.wrap_future(handed)
