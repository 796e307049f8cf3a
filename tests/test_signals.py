"""The signals the application receives, sent by two real workers on Redis:
a stored message (from a client and from the API), a member joining and
leaving a room, a user's first connection and last. A receiver that raises is
logged and changes nothing for the clients."""

import asyncio
import json
import urllib.request
import uuid

import pytest
import redis

from tests import servers
from tests.browser_session import manage
from tests.chat_client import chat, registered_user
from tests.client import wait_until

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def signal_log(tmp_path_factory):
    return tmp_path_factory.mktemp("signals") / "signals.jsonl"


@pytest.fixture(scope="module")
def workers(logs_dir, server_database_url, redis_url, signal_log):
    redis.Redis.from_url(redis_url).flushdb()
    env = servers.service_environment(
        DATABASE_URL=server_database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="tests.signal_settings",
        SIGNAL_LOG=str(signal_log),
        API_KEYS="k",
    )
    started = [servers.start_daphne(logs_dir, env) for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


def records(signal_log, signal, **match):
    if not signal_log.exists():
        return []
    lines = [json.loads(line) for line in signal_log.read_text().splitlines()]
    return [
        line
        for line in lines
        if line["signal"] == signal and all(line.get(k) == v for k, v in match.items())
    ]


async def test_a_stored_message_is_signalled_once_whatever_a_receiver_raises(
    workers, signal_log
):
    room = f"s{uuid.uuid4().hex[:8]}"
    async with (
        chat(workers[0], name=f"a{uuid.uuid4().hex[:6]}") as sender,
        chat(workers[1], name=f"b{uuid.uuid4().hex[:6]}") as reader,
    ):
        await sender.join(room)
        await reader.join(room)
        await sender.say(room, "hello", client_id="c1")
        await sender.say(room, "hello", client_id="c1")
        assert (await reader.next("message", room=room))["text"] == "hello"
        await wait_until(lambda: records(signal_log, "message_stored", room=room))
        await reader.expect_silence("message", room=room)
    stored = records(signal_log, "message_stored", room=room)
    assert [record["message"]["text"] for record in stored] == ["hello"]
    assert (
        "signal receiver" in workers[0].log
        and "a receiver that fails" in workers[0].log
    )


async def test_a_post_through_the_api_is_signalled_too(workers, signal_log):
    room = f"s{uuid.uuid4().hex[:8]}"
    async with chat(workers[0], name=f"a{uuid.uuid4().hex[:6]}") as member:
        await member.join(room)
        request = urllib.request.Request(
            f"http://127.0.0.1:{workers[1].port}/api/rooms/{room}/messages",
            data=json.dumps({"text": "from the API"}).encode(),
            headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        )
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
        await member.next("message", room=room)
    await wait_until(lambda: records(signal_log, "message_stored", room=room))
    (record,) = records(signal_log, "message_stored", room=room)
    assert record["message"]["author"] == "system"


async def test_members_joining_and_leaving_a_room_are_signalled_once_per_user(
    workers, signal_log
):
    room = f"s{uuid.uuid4().hex[:8]}"
    name = f"m{uuid.uuid4().hex[:6]}"
    async with chat(workers[0], name=name) as first:
        await first.join(room)
        async with chat(workers[1], name=name) as second:
            await second.join(room)
        await first.ready()
        assert records(signal_log, "member_left", room=room) == []
    await wait_until(lambda: records(signal_log, "member_left", room=room))
    assert len(records(signal_log, "member_joined", room=room, user=name)) == 1
    assert len(records(signal_log, "member_left", room=room, user=name)) == 1


async def test_a_users_first_connection_and_last_across_workers(
    workers, signal_log, server_database_url
):
    name = f"u{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    output = await asyncio.to_thread(
        manage,
        server_database_url,
        "from django.contrib.auth import get_user_model\n"
        f"print(get_user_model().objects.get(username={name!r}).pk)",
    )
    user_id = int(output.splitlines()[-1])
    async with chat(workers[0], session=session) as first:
        await first.ready()
        async with chat(workers[1], session=session) as second:
            await second.ready()
        await first.ready()
        assert records(signal_log, "user_disconnected", user_id=user_id) == []
    await wait_until(lambda: records(signal_log, "user_disconnected", user_id=user_id))
    assert len(records(signal_log, "user_connected", user_id=user_id)) == 1
    assert len(records(signal_log, "user_disconnected", user_id=user_id)) == 1
