"""The WebSocket session and user stack (server.operations.middleware.auth), through
WebsocketCommunicator."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connections

from server.extensions.consumers import LeanWebsocketConsumer
from server.operations.middleware.auth import SessionAuthMiddleware


class WhoAmI(LeanWebsocketConsumer):
    """Answers each message with the user and session it was connected with."""

    channel_layer_alias = None

    async def receive(self, text_data=None, bytes_data=None):
        if json.loads(text_data).get("change_session"):
            self.scope["session"]["changed"] = True
        user = self.scope["user"]
        await self.send(
            json.dumps(
                {
                    "user": str(user),
                    "authenticated": user.is_authenticated,
                    "colour": self.scope["session"].get("colour"),
                }
            )
        )


@pytest.fixture(autouse=True)
async def close_connections_of_the_sync_thread():
    # The lookups run in asgiref's sync thread, whose connections outlive the
    # test and keep PostgreSQL from dropping the test database.
    yield
    await sync_to_async(connections.close_all)()


def communicator(cookie=None):
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return WebsocketCommunicator(
        SessionAuthMiddleware(WhoAmI.as_asgi()), "/ws/who/", headers=headers
    )


@sync_to_async
def logged_in_session(username):
    user = get_user_model().objects.create_user(username, password="pw")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session["colour"] = "green"
    session.save()
    return session.session_key


async def ask(client, **content):
    await client.send_json_to(content)
    return await client.receive_json_from()


async def test_handshake_without_a_cookie_is_anonymous_without_a_user_lookup(
    monkeypatch,
):
    # No django_db mark, so a query would fail the test; and the lookup, a hop
    # to a worker thread, must not even be asked for.
    async def no_lookup(scope):
        raise AssertionError("looked the user up for a cookie-less handshake")

    monkeypatch.setattr("server.operations.middleware.auth.get_user", no_lookup)
    client = communicator()
    assert (await client.connect())[0]
    assert await ask(client) == {
        "user": "AnonymousUser",
        "authenticated": False,
        "colour": None,
    }
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_session_cookie_brings_its_user_and_session_data():
    key = await logged_in_session("ada")
    client = communicator(f"{settings.SESSION_COOKIE_NAME}={key}")
    assert (await client.connect())[0]
    answer = await ask(client)
    assert answer == {"user": "ada", "authenticated": True, "colour": "green"}
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_unknown_session_key_is_anonymous():
    client = communicator(f"{settings.SESSION_COOKIE_NAME}=no-such-session-key")
    assert (await client.connect())[0]
    assert (await ask(client))["authenticated"] is False
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_sending_never_saves_the_session_a_consumer_must_save_it_itself():
    # Channels' own wrapper would not save it either (it saves on HTTP
    # responses only); ours does not look at the session at all when sending.
    key = await logged_in_session("grace")
    client = communicator(f"{settings.SESSION_COOKIE_NAME}={key}")
    await client.connect()
    await ask(client, change_session=True)
    await client.disconnect()
    stored = await Session.objects.aget(session_key=key)
    assert "changed" not in stored.get_decoded()
