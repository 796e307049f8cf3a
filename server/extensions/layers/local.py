"""What one worker process knows of its own channels: a queue each, groups,
and the fast lane to the connections of the channels that have one.

Rule: this is the only place that holds per-channel state, and only the event
loop's thread touches it. The layer's reader tasks put messages in; each
consumer takes its own out with ``ChannelQueue.get``.

The fast lane (Phoenix calls it that): a group event whose handler a consumer
declared with ``server.extensions.consumers.fastlane`` is encoded and framed once per
worker, and the frame is written to each such member's connection directly,
with no queue, task or handler per member. A member whose consumer is busy with
an earlier event, or has one waiting, gets the event through its queue instead,
so that its events keep their order.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import NamedTuple

from channels.exceptions import ChannelFull

from server.transport import counters
from server.transport.fastlane import FrameWriter
from server.transport.single_reader_queue import SingleReaderQueue

logger = logging.getLogger(__name__)


class Lane(NamedTuple):
    """A channel's fast lane: its handlers' encoders by handler name, and the
    connection its frames are written to."""

    encoders: Mapping[str, Callable[[dict], str | bytes]]
    connection: FrameWriter


class ChannelQueue(SingleReaderQueue):
    """Messages for one channel, at most ``capacity`` of them, one reader.

    A queue that overflows, or that the layer fails, keeps the error instead of
    messages: its reader gets the error on its next ``get`` and stops. A member
    that missed a message must not go on as if it had not.
    """

    __slots__ = ("_capacity", "_error")

    def __init__(self, capacity):
        super().__init__()
        self._capacity = capacity
        self._error = None

    def idle(self):
        """Its consumer waits for the next message, and none is waiting."""
        return self._reader is not None and not self._messages and self._error is None

    def put(self, message):
        if self._error is not None:
            return
        if self.full():
            self.fail(ChannelFull(f"more than {self._capacity} messages waiting"))
            return
        self.put_nowait(message)

    def full(self):
        return len(self._messages) >= self._capacity

    def fail(self, error):
        if self._error is None:
            self._error = error
            self.drop_waiting()
            self._wake()

    def _check(self):
        if self._error is not None:
            raise self._error


class LocalChannels:
    """This process's channels, and which of them belong to which group."""

    def __init__(self, capacity_of):
        self.capacity_of = capacity_of
        self.queues = {}
        self.groups = defaultdict(set)
        # The same memberships by channel, so that closing one costs its own
        # groups, not a look at every group.
        self.memberships = defaultdict(set)
        self.fastlanes = {}  # channel -> Lane
        # Channels whose consumers ride out a Redis outage (survive_outages).
        self.survivors = set()

    def open(self, channel):
        if channel not in self.queues:
            self.queues[channel] = ChannelQueue(self.capacity_of(channel))
        return self.queues[channel]

    def close(self, channel):
        """Forget a channel: its queue, and its place in every group."""
        self.queues.pop(channel, None)
        self.fastlanes.pop(channel, None)
        self.survivors.discard(channel)
        for group in list(self.memberships.get(channel, ())):
            self.leave(group, channel)

    async def receive(self, channel):
        """The next message for ``channel``; a receive that is cancelled or
        fails closes the channel, for its consumer is done with it."""
        queue = self.open(channel)
        try:
            return await queue.get()
        except BaseException:
            self.close(channel)
            raise

    def join(self, group, channel):
        self.open(channel)
        self.groups[group].add(channel)
        self.memberships[channel].add(group)

    def leave(self, group, channel):
        """Take ``channel`` out of ``group``; True if the group has none left here."""
        joined = self.memberships.get(channel)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self.memberships[channel]
        members = self.groups.get(group)
        if members is None:
            return True
        members.discard(channel)
        if not members:
            del self.groups[group]
            return True
        return False

    def deliver(self, channel, message):
        queue = self.queues.get(channel)
        if queue is None:
            # Its consumer has gone: the message was for nobody.
            logger.debug("dropped a message for closed channel %s", channel)
            return
        queue.put(message)

    def deliver_to_group(self, group, message):
        handler = message.get("type", "").replace(".", "_")
        frames = {}
        fast = 0
        for channel in self.groups.get(group, ()):
            queue = self.queues[channel]
            lane = self.fastlanes.get(channel)
            if lane is not None and queue.idle():
                encode = lane.encoders.get(handler)
                if encode is not None:
                    # Once per encoder and kind of connection: a group may mix
                    # WebSockets and the HTTP fallback's event streams.
                    kind = (encode, type(lane.connection))
                    frame = frames.get(kind)
                    if frame is None:
                        frame = lane.connection.prepare_frame(encode(message))
                        frames[kind] = frame
                    if lane.connection.send_prepared(frame):
                        fast += 1
                        continue
            # Each member gets its own dict: a handler may change its event.
            queue.put(dict(message))
        if fast:
            counters.MESSAGES_SENT.inc(fast)

    def fail_group(self, group, error):
        for channel in self.groups.get(group, ()):
            self.queues[channel].fail(error)

    def fail_all(self, error):
        """Fail every channel but the survivors; True if any survive."""
        for channel, queue in self.queues.items():
            if channel not in self.survivors:
                queue.fail(error)
        return bool(self.survivors)

    def tell_survivors(self, event_type):
        for channel in self.survivors:
            self.deliver(channel, {"type": event_type})
