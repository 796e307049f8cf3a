"""The chat consumer on its own (WebsocketCommunicator), for what a real server
cannot be made to do on demand."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import OperationalError

from chat import storage
from chat.consumers import ChatConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def connected(name):
    client = WebsocketCommunicator(ChatConsumer.as_asgi(), f"/ws/chat/?name={name}")
    client.scope["user"] = AnonymousUser()
    assert (await client.connect())[0]
    return client


async def next_of(client, type_):
    while (message := await client.receive_json_from())["type"] != type_:
        pass
    return message


async def test_a_message_the_database_cannot_store_is_answered_unavailable(
    monkeypatch,
):
    client = await connected("alice")
    await client.send_json_to({"type": "join", "room": "lobby"})
    await next_of(client, "joined")

    def database_down(*args):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(storage, "store", database_down)
    await client.send_json_to(
        {"type": "message", "room": "lobby", "text": "lost?", "client_id": "c-1"}
    )
    reply = await next_of(client, "error")
    assert (reply["code"], reply["ref"]) == ("unavailable", "c-1")
    monkeypatch.undo()
    await client.send_json_to(
        {"type": "message", "room": "lobby", "text": "again", "client_id": "c-1"}
    )
    reply = await next_of(client, "message")
    assert (reply["id"], reply["text"]) == (1, "again")
    await client.disconnect()


async def test_replies_are_json_text_frames():
    client = await connected("bob")
    await client.send_to(text_data=json.dumps({"type": "rooms"}))
    output = await client.receive_output()
    assert output["type"] == "websocket.send" and "text" in output
    await client.disconnect()
