"""Publishing from application code waits for the caller's transaction: a
call inside one reaches the user once it commits, and never if it rolls back;
a call outside one, or an async one, goes at once. A real daphne, a user's
real WebSocket, and the application in a plain process of its own."""

import asyncio
import uuid

import pytest
import redis

from harness import accounts
from tests import servers
from tests.chat_client import registered_user
from tests.client import connect, receive

pytestmark = pytest.mark.server

APPLICATION = """
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import transaction
from realtime import publish

user_id = get_user_model().objects.get(username={name!r}).pk

with transaction.atomic():
    publish.send_to_user({name!r}, "rolled back")
    transaction.set_rollback(True)
with transaction.atomic():
    assert publish.send_to_user({name!r}, "after the commit") is None
    with transaction.atomic():  # a savepoint: still the outer transaction's
        publish.send_to_user({name!r}, "after the commit, too")
    # The async form goes at once. By id: looking up a name goes through
    # database_sync_to_async, which here would close this transaction's
    # connection.
    async_to_sync(publish.asend_to_user)(user_id, "during the transaction")
publish.send_to_user({name!r}, "outside any transaction")
"""


async def test_a_publish_in_a_transaction_waits_for_the_commit_and_not_a_rollback(
    start_daphne, redis_url, server_database_url
):
    redis.Redis.from_url(redis_url).flushdb()
    server = start_daphne(REDIS_URL=redis_url)
    name = f"tx{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    cookie = [("Cookie", f"sessionid={session}")]
    async with connect(server, additional_headers=cookie) as websocket:
        env = servers.service_environment(
            DATABASE_URL=server_database_url, REDIS_URL=redis_url
        )
        code = APPLICATION.format(name=name)
        await asyncio.to_thread(accounts.manage_shell, code, env)
        heard = [await receive(websocket) for _ in range(4)]
    assert heard == [
        "during the transaction",
        "after the commit",
        "after the commit, too",
        "outside any transaction",
    ]
