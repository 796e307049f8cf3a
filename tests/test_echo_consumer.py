"""The echo consumer on its own, through Channels' WebsocketCommunicator."""

import asyncio
import logging

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator

from echo.consumers import EchoConsumer, GroupEchoConsumer
from echo.protocol import choose_subprotocol
from project.channel_layers import channel_layers


def communicator(subprotocols=()):
    return WebsocketCommunicator(
        EchoConsumer.as_asgi(), "/ws/echo/", subprotocols=list(subprotocols)
    )


async def test_text_comes_back_as_text():
    client = communicator()
    assert (await client.connect())[0]
    await client.send_to(text_data="ping")
    assert await client.receive_output() == {"type": "websocket.send", "text": "ping"}
    await client.disconnect()


async def test_empty_binary_comes_back_as_empty_binary():
    client = communicator()
    await client.connect()
    await client.send_input({"type": "websocket.receive", "bytes": b""})
    assert await client.receive_output() == {"type": "websocket.send", "bytes": b""}
    await client.disconnect()


async def test_accepts_with_the_first_supported_subprotocol_offered():
    client = communicator(["v9.example", "superchat", "chat"])
    connected, subprotocol = await client.connect()
    assert connected
    assert subprotocol == "superchat"
    await client.disconnect()


async def test_echoes_while_the_channel_layers_redis_is_unreachable(settings):
    settings.CHANNEL_LAYERS = channel_layers(
        "redis://127.0.0.1:1/0",
        capacity=10,
        expiry=5,
        group_expiry=5,
        membership_ttl=30,
    )
    client = communicator()
    assert (await client.connect())[0]
    await client.send_to(text_data="no redis needed")
    assert (await client.receive_output())["text"] == "no redis needed"
    await client.disconnect()


async def test_logs_peer_and_first_80_characters(caplog):
    client = WebsocketCommunicator(EchoConsumer.as_asgi(), "/ws/echo/")
    client.scope["client"] = ["192.0.2.7", 5151]
    await client.connect()
    with caplog.at_level(logging.INFO, logger="echo.consumers"):
        await client.send_to(text_data="y" * 90)
        await client.receive_output()
        await client.send_to(bytes_data=b"abc")
        await client.receive_output()
    assert caplog.messages == [
        f"192.0.2.7:5151 sent: {'y' * 80}",
        "192.0.2.7:5151 sent: 3 bytes",
    ]
    await client.disconnect()


class SlowToJoinLayer(InMemoryChannelLayer):
    """An in-memory layer whose group_add takes a while, as Redis's can."""

    async def group_add(self, group, channel):
        await asyncio.sleep(0.05)
        await super().group_add(group, channel)


async def test_group_member_is_in_the_group_once_its_connection_opens(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "tests.test_echo_consumer.SlowToJoinLayer"}
    }
    client = WebsocketCommunicator(GroupEchoConsumer.as_asgi(), "/ws/echo/room/")
    client.scope["url_route"] = {"kwargs": {"group": "room"}}
    assert (await client.connect())[0]
    await get_channel_layer().group_send(
        "room", {"type": "echo.message", "text": "first", "bytes": None}
    )
    assert await client.receive_output() == {"type": "websocket.send", "text": "first"}
    await client.disconnect()


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [([], None), (["chat"], "chat"), (["nope", "chat"], "chat"), (["nope"], None)],
)
def test_choose_subprotocol(offered, chosen):
    assert choose_subprotocol(offered) == chosen
