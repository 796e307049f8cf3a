"""Signing out reaches the sockets, on every worker: logging out closes that
session's connections, a new password or deactivation closes all of the
user's, each with 3000 so that clients do not reconnect as them. Real login
and logout views, with the CSRF token a browser sends; two workers on Redis."""

import asyncio
import uuid

import pytest

from tests.browser_session import BrowserSession, make_user, manage
from tests.chat_client import chat
from tests.client import close_of, connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

PASSWORD = "correct horse battery staple"
# The bound: every socket of the user is closed within this.
REVOKED_WITHIN_SECONDS = 5


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    return [start_module_daphne(REDIS_URL=redis_url) for _ in range(2)]


@pytest.fixture
def user(server_database_url):
    name = f"u{uuid.uuid4().hex[:8]}"
    make_user(server_database_url, name, PASSWORD)
    return name


async def closed_with(websocket):
    async with asyncio.timeout(REVOKED_WITHIN_SECONDS):
        return await close_of(websocket)


async def test_logging_out_closes_that_sessions_sockets_on_both_workers(workers, user):
    browser = BrowserSession(workers[0])
    session = await asyncio.to_thread(browser.log_in, user, PASSWORD)
    async with (
        chat(workers[0], session=session) as first,
        chat(workers[1], session=session) as second,
        connect(
            workers[1], additional_headers={"Cookie": f"sessionid={session}"}
        ) as echo,
        chat(workers[1], name=f"guest{uuid.uuid4().hex[:6]}") as guest,
    ):
        room = f"r{uuid.uuid4().hex[:8]}"
        await first.join(room)
        await second.join(room)
        await echo.send("still here")
        assert await receive(echo) == "still here"
        await asyncio.to_thread(browser.log_out)
        for websocket in (first.websocket, second.websocket, echo):
            assert await closed_with(websocket) == (3000, "logged out")
        await guest.join(room)
        await guest.say(room, "guests go on")
        assert (await guest.next("message", room=room))["text"] == "guests go on"


async def test_logging_out_leaves_the_users_other_sessions_connected(workers, user):
    leaving, staying = BrowserSession(workers[0]), BrowserSession(workers[1])
    leaving_session = await asyncio.to_thread(leaving.log_in, user, PASSWORD)
    staying_session = await asyncio.to_thread(staying.log_in, user, PASSWORD)
    async with (
        chat(workers[1], session=leaving_session) as gone,
        chat(workers[0], session=staying_session) as kept,
    ):
        await asyncio.to_thread(leaving.log_out)
        assert await closed_with(gone.websocket) == (3000, "logged out")
        room = f"r{uuid.uuid4().hex[:8]}"
        assert (await kept.join(room))["room"] == room


@pytest.mark.parametrize(
    "change, reason",
    [
        ("user.set_password('another one')", "password changed"),
        ("user.is_active = False", "account deactivated"),
    ],
)
async def test_a_change_made_in_a_plain_process_closes_every_socket_of_the_user(
    workers, user, server_database_url, redis_url, change, reason
):
    browser = BrowserSession(workers[0])
    session = await asyncio.to_thread(browser.log_in, user, PASSWORD)
    other = await asyncio.to_thread(BrowserSession(workers[1]).log_in, user, PASSWORD)
    code = (
        "from django.contrib.auth import get_user_model\n"
        f"user = get_user_model().objects.get(username={user!r})\n"
        f"{change}\n"
        "user.save()\n"
    )
    async with (
        chat(workers[0], session=session) as first,
        chat(workers[1], session=other) as second,
    ):
        await first.ready()
        await second.ready()
        await asyncio.to_thread(manage, server_database_url, code, REDIS_URL=redis_url)
        assert await closed_with(first.websocket) == (3000, reason)
        assert await closed_with(second.websocket) == (3000, reason)


async def test_a_save_that_changes_no_credential_closes_nothing(
    workers, user, server_database_url, redis_url
):
    session = await asyncio.to_thread(BrowserSession(workers[0]).log_in, user, PASSWORD)
    code = (
        "from django.contrib.auth import get_user_model\n"
        f"user = get_user_model().objects.get(username={user!r})\n"
        "user.first_name = 'Ada'\n"
        "user.save()\n"
    )
    async with chat(workers[1], session=session) as client:
        await asyncio.to_thread(manage, server_database_url, code, REDIS_URL=redis_url)
        room = f"r{uuid.uuid4().hex[:8]}"
        assert (await client.join(room))["room"] == room
