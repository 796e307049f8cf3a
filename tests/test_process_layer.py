"""The process layer (the embedded default, without Redis) through Channels'
layer interface."""

import asyncio
import threading

import pytest
from channels.exceptions import ChannelFull

from server.extensions.layers import FASTLANE
from server.extensions.layers.process import ProcessChannelLayer

pytestmark = pytest.mark.once


async def receive(layer, channel, seconds=5):
    return await asyncio.wait_for(layer.receive(channel), seconds)


async def test_a_group_send_reaches_every_member_once_and_in_order():
    layer = ProcessChannelLayer()
    members = [await layer.new_channel() for _ in range(3)]
    for channel in members:
        await layer.group_add("room", channel)
    for number in range(3):
        await layer.group_send("room", {"type": "said", "n": number})
    for channel in members:
        assert [(await receive(layer, channel))["n"] for _ in range(3)] == [0, 1, 2]
    assert FASTLANE in layer.extensions


async def test_a_member_that_stopped_receiving_is_forgotten_with_its_messages():
    layer = ProcessChannelLayer()
    gone, staying = await layer.new_channel(), await layer.new_channel()
    for channel in (gone, staying):
        await layer.group_add("room", channel)
    waiting = asyncio.ensure_future(layer.receive(gone))
    await asyncio.sleep(0)
    waiting.cancel()
    await layer.group_send("room", {"type": "said"})
    await layer.send(gone, {"type": "direct"})
    assert await receive(layer, staying) == {"type": "said"}
    # Nothing was kept for it: a receive on its name finds no message.
    with pytest.raises(TimeoutError):
        await receive(layer, gone, seconds=0.2)


async def test_a_named_channel_refuses_messages_past_its_capacity():
    layer = ProcessChannelLayer(capacity=2)
    await layer.send("worker", {"type": "job"})
    await layer.send("worker", {"type": "job"})
    with pytest.raises(ChannelFull):
        await layer.send("worker", {"type": "job"})
    assert await receive(layer, "worker") == {"type": "job"}


async def test_a_member_that_falls_capacity_behind_is_told():
    layer = ProcessChannelLayer(capacity=2)
    slow = await layer.new_channel()
    await layer.group_add("room", slow)
    for _ in range(3):
        await layer.group_send("room", {"type": "said"})
    with pytest.raises(ChannelFull):
        await receive(layer, slow)


async def test_a_send_from_another_threads_loop_is_run_on_the_receiving_loop():
    layer = ProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    delivering_threads = []
    deliver = layer.local.deliver_to_group

    def recorded(group, message):
        delivering_threads.append(threading.get_ident())
        deliver(group, message)

    layer.local.deliver_to_group = recorded
    sender = threading.Thread(
        target=asyncio.run, args=(layer.group_send("room", {"type": "from afar"}),)
    )
    sender.start()
    assert await receive(layer, channel) == {"type": "from afar"}
    await asyncio.to_thread(sender.join)
    # The layer's state is touched on the thread of the loop that receives.
    assert delivering_threads == [threading.get_ident()]
