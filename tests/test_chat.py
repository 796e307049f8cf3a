"""The chat protocol against two real daphne workers sharing Redis and the
database (SQLite, or PostgreSQL in CI's second pass)."""

import asyncio
import contextlib
import json
import os
import signal
import uuid

import psycopg
import pytest
import websockets

from tests.chat_client import chat, registered_user, registered_users, unique
from tests.client import wait_until

pytestmark = pytest.mark.server

PRESENCE_TTL = 2


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    """Two workers the module's tests share; each test has rooms and names of its
    own. A test that kills a worker starts its own (``doomed_workers``)."""
    return start_workers(start_module_daphne, redis_url)


@pytest.fixture
def doomed_workers(start_daphne, redis_url):
    return start_workers(start_daphne, redis_url)


def start_workers(start, redis_url):
    settings = {
        "REDIS_URL": redis_url,
        "CHAT_HISTORY_LATEST": "5",
        "CHAT_HISTORY_PAGE": "20",
        "PRESENCE_TTL": str(PRESENCE_TTL),
        # These tests send bursts to check order and history; test_limits.py
        # checks the rate with its defaults.
        "CHAT_RATE_BURST": "1000",
    }
    return [start(**settings) for _ in range(2)]


@pytest.fixture
def room():
    return f"room-{uuid.uuid4().hex[:10]}"


async def say_many(client, room, count, prefix="m"):
    for number in range(count):
        await client.say(room, f"{prefix} {number}", client_id=f"{prefix}-{number}")


async def test_a_message_reaches_every_member_on_both_workers_the_sender_included(
    workers, room
):
    async with (
        chat(workers[0], unique("alice")) as alice,
        chat(workers[1], unique("bob")) as bob,
    ):
        await alice.join(room)
        await bob.join(room)
        await alice.say(room, "hi <b>bob</b>", client_id="c-1")
        for client in (alice, bob):
            message = await client.next("message", room=room)
            assert message["id"] == 1
            assert message["text"] == "hi <b>bob</b>"
            assert message["client_id"] == "c-1"
            assert message["ts"].endswith("+00:00")


async def test_join_without_since_brings_the_latest_messages(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await say_many(alice, room, 8)
        for _ in range(8):
            await alice.next("message", room=room)
    async with chat(workers[1], unique("bob")) as bob:
        joined = await bob.join(room)
        assert [m["id"] for m in joined["messages"]] == [4, 5, 6, 7, 8]
        assert joined["last_id"] == 8


async def test_since_across_a_reconnect_to_the_other_worker_loses_and_doubles_nothing(
    workers, room
):
    total = 60
    async with chat(workers[1], unique("sender")) as sender:
        await sender.join(room)
        async with chat(workers[0], unique("reader")) as reader:
            await reader.join(room)
            sending = asyncio.create_task(say_many(sender, room, total))
            received = [
                (await reader.next("message", room=room))["id"] for _ in range(10)
            ]
        # Reconnected elsewhere while messages keep coming: "since", then pages.
        async with chat(workers[1], unique("reader")) as reader:
            joined = await reader.join(room, since=received[-1])
            received += [message["id"] for message in joined["messages"]]
            await sending
            while received[-1] < total:
                await reader.send("history", room=room, after=received[-1])
                page = await reader.next("history", room=room)
                received += [message["id"] for message in page["messages"]]
    assert received == list(range(1, total + 1))


async def test_two_workers_storing_into_one_room_at_once_get_consecutive_ids(
    workers, room
):
    async with (
        chat(workers[0], unique("left")) as left,
        chat(workers[1], unique("right")) as right,
    ):
        await left.join(room)
        await right.join(room)
        await asyncio.gather(
            say_many(left, room, 40, "l"), say_many(right, room, 40, "r")
        )
        ids = [(await left.next("message", room=room))["id"] for _ in range(80)]
    assert sorted(ids) == list(range(1, 81))


async def test_a_resent_message_is_answered_with_the_stored_one_not_stored_again(
    workers, room
):
    async with (
        chat(workers[0], name := unique("alice")) as alice,
        chat(workers[1], unique("bob")) as bob,
    ):
        await alice.join(room)
        await bob.join(room)
        await alice.say(room, "once", client_id="c-7")
        first = await alice.next("message", room=room)
        await alice.say(room, "once", client_id="c-7")
        again = await alice.next("message", room=room)
        assert again == first and first["author"] == name
        assert (await bob.next("message", room=room))["id"] == first["id"]
        await bob.expect_silence("message", room=room)


async def test_history_pages_before_and_after_an_id(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await say_many(alice, room, 30)
        for _ in range(30):
            await alice.next("message", room=room)
        await alice.send("history", room=room, before=11, limit=3)
        page = await alice.next("history", room=room)
        assert [m["id"] for m in page["messages"]] == [8, 9, 10]
        await alice.send("history", room=room, after=4)
        page = await alice.next("history", room=room)
        # At most CHAT_HISTORY_PAGE (20 here); last_id says there is more.
        assert [m["id"] for m in page["messages"]] == list(range(5, 25))
        assert page["last_id"] == 30


async def test_presence_counts_a_user_with_two_tabs_once(workers, room):
    name = unique("alice")
    async with chat(workers[1], unique("bob")) as bob:
        await bob.join(room)
        async with chat(workers[0], name) as tab:
            await tab.join(room)
            await bob.next("presence", room=room, joined=[name])
            async with chat(workers[1], name) as other_tab:
                joined = await other_tab.join(room)
                assert name in joined["members"]
                await bob.expect_silence("presence", room=room, joined=[name])
            await bob.expect_silence("presence", room=room, left=[name])
        await bob.next("presence", room=room, left=[name])


async def test_members_on_either_worker_are_listed(workers, room):
    names = [unique("a"), unique("b")]
    async with (
        chat(workers[0], names[0]) as first,
        chat(workers[1], names[1]) as second,
    ):
        await first.join(room)
        joined = await second.join(room)
        assert joined["members"] == sorted(names)


async def test_members_who_stay_connected_stay_present_past_the_ttl(workers, room):
    """Each worker renews its members' entries (in one script per room) every
    third of the TTL; a member it failed to renew would be swept as gone."""
    names = [unique("stayer"), unique("stayer")]
    async with (
        chat(workers[0], names[0]) as first,
        chat(workers[1], names[1]) as second,
    ):
        await first.join(room)
        await second.join(room)
        await first.expect_silence(
            "presence", seconds=PRESENCE_TTL * 3, room=room, left=[names[1]]
        )
        async with chat(workers[1], unique("late")) as late:
            joined = await late.join(room)
    assert set(names) <= set(joined["members"])


async def test_a_user_whose_worker_was_killed_leaves_within_the_bound(
    doomed_workers, room
):
    doomed, survivor = doomed_workers
    name = unique("ghost")
    async with chat(survivor, unique("bob")) as bob:
        await bob.join(room)
        ghost = await websockets.connect(
            f"ws://127.0.0.1:{doomed.port}/ws/chat/?name={name}"
        )
        await ghost.send(json.dumps({"type": "join", "room": room}))
        await bob.next("presence", room=room, joined=[name])
        doomed.process.send_signal(signal.SIGKILL)
        await bob.next(
            "presence", seconds=PRESENCE_TTL * 4 / 3 + 2, room=room, left=[name]
        )
        ghost.transport.abort()


async def typing_pair(workers, room, typist_name=None):
    """A typist and a reader in ``room``, on different workers."""
    stack = contextlib.AsyncExitStack()
    typist_name = typist_name or unique("typist")
    typist = await stack.enter_async_context(chat(workers[0], typist_name))
    reader = await stack.enter_async_context(chat(workers[1], unique("reader")))
    await typist.join(room)
    await reader.join(room)
    return stack, typist, reader


async def test_others_hear_who_is_typing(workers, room):
    name = unique("typist")
    stack, typist, reader = await typing_pair(workers, room, name)
    async with stack:
        await typist.send("typing", room=room)
        assert (await reader.next("typing", room=room))["user"] == name


async def test_the_typist_does_not_hear_of_its_own_typing(workers, room):
    stack, typist, reader = await typing_pair(workers, room)
    async with stack:
        await typist.send("typing", room=room)
        await reader.next("typing", room=room)
        await typist.expect_silence("typing", room=room)


async def test_typing_notices_are_passed_on_at_most_once_per_interval(workers, room):
    stack, typist, reader = await typing_pair(workers, room)
    async with stack:
        for _ in range(5):
            await typist.send("typing", room=room)
        await reader.next("typing", room=room)
        await reader.expect_silence("typing", room=room)


async def users(database_url, *names):
    """Registered users of these names (made unique): {name: session key}."""
    names = [unique(name) for name in names]
    return await asyncio.to_thread(registered_users, database_url, names)


async def test_a_direct_room_is_joined_and_read_by_its_two_users(
    workers, server_database_url
):
    (alice, alice_session), (bob, bob_session) = (
        await users(server_database_url, "alice", "bob")
    ).items()
    async with (
        chat(workers[0], session=alice_session) as a,
        chat(workers[1], session=bob_session) as b,
    ):
        await a.send("direct", user=bob)
        room = (await a.next("joined"))["room"]
        await b.send("direct", user=alice)
        assert (await b.next("joined"))["room"] == room
        await a.say(room, "just us")
        assert (await b.next("message", room=room))["text"] == "just us"


@pytest.fixture(scope="module")
def alice_bob_and_carol(server_database_url):
    """Three registered users, made once for the module: {name: session key}."""
    names = [unique(name) for name in ("alice", "bob", "carol")]
    return registered_users(server_database_url, names)


@pytest.mark.parametrize(
    ("type_", "fields", "code"),
    [
        ("join", {}, "forbidden"),
        ("join", {"since": 0}, "forbidden"),
        ("message", {"text": "let me in"}, "not_joined"),
        ("history", {"after": 0}, "not_joined"),
        ("history", {"before": 10}, "not_joined"),
        ("typing", {}, "not_joined"),
        ("leave", {}, "not_joined"),
    ],
)
async def test_a_third_user_is_refused_a_direct_room_whatever_they_send(
    workers, alice_bob_and_carol, type_, fields, code
):
    (alice, alice_session), (bob, _), (_, carol_session) = alice_bob_and_carol.items()
    async with (
        chat(workers[0], session=alice_session) as a,
        chat(workers[1], session=carol_session) as c,
    ):
        await a.send("direct", user=bob)
        room = (await a.next("joined"))["room"]
        await c.send(type_, room=room, **fields)
        assert (await c.next("error"))["code"] == code
        await c.send("rooms")
        assert room not in [r["name"] for r in (await c.next("rooms"))["direct"]]
        await a.expect_silence("message", room=room, seconds=0.2)


async def test_a_user_cannot_open_a_direct_room_with_themselves(
    workers, server_database_url
):
    ((carol, session),) = (await users(server_database_url, "carol")).items()
    async with chat(workers[0], session=session) as c:
        await c.send("direct", user=carol)
        assert (await c.next("error"))["code"] == "unknown_user"


async def test_an_anonymous_client_cannot_take_a_registered_name(
    workers, server_database_url
):
    taken = unique("member")
    await asyncio.to_thread(registered_user, server_database_url, taken)
    async with chat(workers[0], taken) as impostor:
        assert (await impostor.next("error"))["code"] == "invalid_name"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await impostor.next("never")
        assert closed.value.rcvd.code == 4001


@pytest.mark.parametrize(
    "name", ["", "has%20space", "a" * 31, "tab%09", "new%0Aline", "x&name=y"]
)
async def test_invalid_anonymous_names_are_refused(workers, name):
    async with websockets.connect(
        f"ws://127.0.0.1:{workers[0].port}/ws/chat/?name={name}"
    ) as client:
        assert json.loads(await client.recv())["code"] == "invalid_name"
        with pytest.raises(websockets.ConnectionClosed):
            await client.recv()
        assert client.close_code == 4001


async def test_anonymous_clients_cannot_send_direct_messages(workers):
    async with chat(workers[0], unique("guest")) as guest:
        await guest.send("direct", user="anyone")
        assert (await guest.next("error"))["code"] == "login_required"


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"room": "x"}', "unknown_type"),
        ('{"type": "join"}', "invalid_field"),
        ('{"type": "join", "room": 7}', "invalid_field"),
        ('{"type": "join", "room": "ok", "since": "7"}', "invalid_field"),
        ('{"type": "join", "room": "Not A Room"}', "unknown_room"),
        ('{"type": "join", "room": "dm.nobody.nothing"}', "unknown_room"),
        ('{"type": "message", "room": "elsewhere", "text": "hi"}', "not_joined"),
    ],
)
async def test_malformed_messages_get_an_error_and_the_connection_goes_on(
    workers, sent, code
):
    async with chat(workers[0], unique("fuzzy")) as client:
        await client.websocket.send(sent)
        assert (await client.next("error"))["code"] == code
        await client.join("still-works")


async def test_a_binary_frame_is_refused(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.websocket.send(b"\x00\x01")
        assert (await alice.next("error"))["code"] == "binary_frame"


async def test_text_over_the_limit_is_refused_with_a_reference_to_it(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, "x" * 4001, client_id="long")
        error = await alice.next("error")
        assert (error["code"], error["ref"]) == ("text_too_long", "long")


async def test_text_of_only_spaces_is_refused(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, "   ")
        assert (await alice.next("error"))["code"] == "invalid_field"


async def test_text_of_exactly_the_limit_is_stored(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, "x" * 4000)
        assert (await alice.next("message", room=room))["id"] == 1


async def test_leave_is_announced_to_those_who_stay(workers, room):
    name = unique("leaver")
    async with (
        chat(workers[0], name) as leaver,
        chat(workers[1], unique("stayer")) as stayer,
    ):
        await leaver.join(room)
        await stayer.join(room)
        await leaver.send("leave", room=room)
        await leaver.next("left", room=room)
        await stayer.next("presence", room=room, left=[name])


async def test_after_leave_nothing_more_is_delivered(workers, room):
    async with (
        chat(workers[0], unique("leaver")) as leaver,
        chat(workers[1], unique("stayer")) as stayer,
    ):
        await leaver.join(room)
        await stayer.join(room)
        await leaver.send("leave", room=room)
        await leaver.next("left", room=room)
        await stayer.say(room, "gone?")
        await stayer.next("message", room=room)
        await leaver.expect_silence("message", room=room)


async def test_rooms_lists_public_rooms_with_their_last_id(workers, room):
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, "one")
        await alice.next("message", room=room)
        await alice.send("rooms")
        rooms = {r["name"]: r for r in (await alice.next("rooms"))["rooms"]}
        assert rooms[room]["last_id"] == 1
        assert rooms[room]["private"] is False


async def test_messages_are_not_logged(workers, room):
    secret = f"secret-{uuid.uuid4().hex}"
    disconnects = workers[0].log.count("WSDISCONNECT /ws/chat/")
    async with chat(workers[0], unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, secret)
        await alice.next("message", room=room)
    # The disconnect is logged after anything the message caused.
    await wait_until(
        lambda: workers[0].log.count("WSDISCONNECT /ws/chat/") > disconnects
    )
    assert secret not in workers[0].log


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs a database server that can close connections: CI's PostgreSQL pass",
)
async def test_a_kept_connection_the_database_closed_is_replaced_not_reused(
    start_daphne, redis_url, server_database_url, room
):
    worker = start_daphne(REDIS_URL=redis_url, DATABASE_CONN_MAX_AGE="600")
    async with chat(worker, unique("alice")) as alice:
        await alice.join(room)
        await alice.say(room, "before")
        await alice.next("message", room=room)
        with psycopg.connect(server_database_url, autocommit=True) as admin:
            closed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert closed >= 1, "the worker kept no connection to close"
        await alice.say(room, "after", client_id="after")
        message = await alice.next("message", room=room)
        assert (message["text"], message["id"]) == ("after", 2)
