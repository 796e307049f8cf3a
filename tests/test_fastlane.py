"""The fast lane: a group event framed once per worker and written to every
idle member's connection; everyone else gets it through their handler."""

import asyncio

from echo.consumers import GroupEchoConsumer
from server.extensions.consumers import fastlane_handlers
from server.extensions.layers.local import Lane, LocalChannels
from server.transport.daphne_protocol import WebSocketProtocol


class Connection:
    """Stands in for daphne's protocol: records the frames written to it."""

    prepared = 0

    def __init__(self, open_=True):
        self.open = open_
        self.frames = []

    @classmethod
    def prepare_frame(cls, content):
        cls.prepared += 1
        return WebSocketProtocol.prepare_frame(content)

    def send_prepared(self, frame):
        if self.open:
            self.frames.append(frame)
        return self.open


class ShoutingGroupEcho(GroupEchoConsumer):
    async def echo_message(self, event):
        await self.send(text_data=event["text"].upper())


EVENT = {"type": "echo.message", "text": "héllo", "bytes": None}


async def members(local, count, connection_of, consumer=GroupEchoConsumer):
    """``count`` channels in group "g", each with a consumer waiting on it."""
    readers = []
    for number in range(count):
        channel = f"specific.w!{number}"
        local.join("g", channel)
        local.fastlanes[channel] = Lane(
            fastlane_handlers(consumer), connection_of(number)
        )
        readers.append(asyncio.ensure_future(local.queues[channel].get()))
    await asyncio.sleep(0)
    return readers


async def test_idle_members_get_one_frame_prepared_once_for_all():
    local = LocalChannels(lambda channel: 10)
    connections = [Connection() for _ in range(3)]
    Connection.prepared = 0
    readers = await members(local, 3, connections.__getitem__)
    local.deliver_to_group("g", EVENT)
    assert Connection.prepared == 1
    for connection, reader in zip(connections, readers, strict=True):
        (frame,) = connection.frames
        assert frame.payload == "héllo".encode() and not frame.binary
        assert not reader.done()
        reader.cancel()


async def test_binary_and_empty_messages_keep_their_type_on_the_fast_lane():
    frame = WebSocketProtocol.prepare_frame(b"")
    assert frame.binary and frame.payload == b""
    frame = WebSocketProtocol.prepare_frame("")
    assert not frame.binary and frame.payload == b""


async def test_a_member_with_an_event_waiting_gets_this_one_queued_behind_it():
    local = LocalChannels(lambda channel: 10)
    connection = Connection()
    (reader,) = await members(local, 1, lambda number: connection)
    reader.cancel()
    local.queues["specific.w!0"].put({"type": "earlier"})
    local.deliver_to_group("g", EVENT)
    assert connection.frames == []
    queue = local.queues["specific.w!0"]
    assert [(await queue.get())["type"] for _ in range(2)] == [
        "earlier",
        "echo.message",
    ]


async def test_a_closed_connection_gets_the_event_through_its_handler():
    local = LocalChannels(lambda channel: 10)
    (reader,) = await members(local, 1, lambda number: Connection(open_=False))
    local.deliver_to_group("g", EVENT)
    assert await asyncio.wait_for(reader, 1) == EVENT


async def test_a_consumer_that_overrides_the_handler_gets_the_event_itself():
    assert "echo_message" in fastlane_handlers(GroupEchoConsumer)
    assert "echo_message" not in fastlane_handlers(ShoutingGroupEcho)
    local = LocalChannels(lambda channel: 10)
    connection = Connection()
    (reader,) = await members(
        local, 1, lambda number: connection, consumer=ShoutingGroupEcho
    )
    local.deliver_to_group("g", EVENT)
    assert connection.frames == []
    assert await asyncio.wait_for(reader, 1) == EVENT


async def test_the_fast_lane_handler_sends_the_same_thing_the_slow_way():
    sent = []

    class Recording(GroupEchoConsumer):
        async def send(self, text_data=None, bytes_data=None, close=False):
            sent.append(text_data if text_data is not None else bytes_data)

    consumer = Recording()
    await consumer.echo_message(EVENT)
    await consumer.echo_message({"type": "echo.message", "text": None, "bytes": b""})
    assert sent == ["héllo", b""]
