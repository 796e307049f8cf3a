"""Threads: replies are events of the room's order, summarised on their root
and paged in a thread view, against two real daphne workers sharing Redis
and the database."""

import pytest

from tests.chat_client import chat, registered_users, unique

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    return [start_module_daphne(**settings) for _ in range(2)]


@pytest.fixture(scope="module")
def sessions(server_database_url):
    names = {role: unique(role) for role in ("ann", "ben")}
    made = registered_users(server_database_url, names.values())
    return {role: (name, made[name]) for role, name in names.items()}


@pytest.fixture
def room():
    return unique("thread-")


async def post(client, room, text, **fields):
    """Post and wait for the stored message: its id."""
    await client.send("message", room=room, text=text, **fields)
    return (await client.next("message", room=room, text=text))["id"]


async def test_a_reply_reaches_both_workers_and_its_root_counts_it(workers, room):
    async with chat(workers[0], "ann") as ann, chat(workers[1], "ben") as ben:
        await ann.join(room)
        await ben.join(room)
        root = await post(ann, room, "ship it today?")
        await ben.send("message", room=room, text="yes, after lunch", reply_to=root)
        reply = await ann.next("message", room=room, text="yes, after lunch")
        assert reply["reply_to"] == root and reply["id"] == root + 1
        await ann.send("message", room=room, text="ok", reply_to=reply["id"])
        nested = await ben.next("message", room=room, text="ok")
        assert nested["reply_to"] == root, "a reply to a reply joins the root's thread"
        await post(ann, room, "next topic")

    async with chat(workers[1], "cat") as cat:
        history = await cat.join(room)
    by_id = {m["id"]: m for m in history["messages"]}
    summary = by_id[root]["thread"]
    assert summary["replies"] == 2 and summary["last_id"] == root + 2
    assert [r["text"] for r in summary["latest"]] == ["yes, after lunch", "ok"]
    assert by_id[root + 3]["thread"] is None and by_id[root + 3]["reply_to"] is None
    assert [m["id"] for m in history["messages"]] == [
        root,
        root + 1,
        root + 2,
        root + 3,
    ]


async def test_since_brings_the_replies_missed(workers, room):
    async with chat(workers[0], "ann") as ann:
        joined = await ann.join(room)
        root = await post(ann, room, "question")
    async with chat(workers[1], "ben") as ben:
        await ben.join(room)
        await post(ben, room, "answer", reply_to=root)
    async with chat(workers[0], "ann") as ann:
        again = await ann.join(room, since=root, epoch=joined["epoch"])
    assert [(m["text"], m["reply_to"]) for m in again["messages"]] == [("answer", root)]


async def test_the_thread_view_pages_its_replies_oldest_first(workers, room):
    async with chat(workers[0], "ann") as ann:
        await ann.join(room)
        root = await post(ann, room, "poll: tabs or spaces")
        await post(ann, room, "unrelated")
        replies = [await post(ann, room, f"vote {n}", reply_to=root) for n in range(5)]
        await ann.send("thread", room=room, id=root, limit=3, client_id="t1")
        first = await ann.next("thread", ref="t1")
        await ann.send("thread", room=room, id=root, after=replies[2], client_id="t2")
        second = await ann.next("thread", ref="t2")
    assert first["root"]["text"] == "poll: tabs or spaces"
    assert first["root"]["thread"]["replies"] == 5
    assert [r["id"] for r in first["replies"]] == replies[:3] and first["more"]
    assert [r["id"] for r in second["replies"]] == replies[3:]
    assert not second["more"]


async def test_replies_are_edited_reacted_to_and_deleted_like_messages(workers, room):
    async with chat(workers[0], "ann") as ann, chat(workers[1], "ben") as ben:
        await ann.join(room)
        await ben.join(room)
        root = await post(ann, room, "release notes draft")
        reply = await post(ben, room, "typo in line 2", reply_to=root)
        await ben.send("edit", room=room, id=reply, text="typo in line 3")
        assert (await ann.next("edit", room=room))["target"] == reply
        await ann.send("react", room=room, id=reply, emoji="👍")
        assert (await ben.next("reaction", room=room))["users"] == ["ann"]
        gone = await post(ben, room, "never mind", reply_to=root)
        await ben.send("delete", room=room, id=gone)
        await ann.next("delete", room=room, target=gone)
        await ann.send("delete", room=room, id=root)
        await ben.next("delete", room=room, target=root)
        await ann.send("thread", room=room, id=root, client_id="view")
        view = await ann.next("thread", ref="view")
    assert view["root"]["deleted"] and view["root"]["text"] == ""
    assert view["root"]["thread"]["replies"] == 1, "the deleted reply is not counted"
    kept, deleted = view["replies"]
    assert (kept["text"], kept["edited"], kept["reactions"]) == (
        "typo in line 3",
        True,
        {"👍": ["ann"]},
    )
    assert deleted["deleted"] and deleted["text"] == ""


async def test_a_reply_to_no_message_is_refused_and_takes_no_id(workers, room):
    async with chat(workers[0], "ann") as ann:
        await ann.join(room)
        first = await post(ann, room, "hello")
        for reply_to in (first + 50, "1"):
            await ann.send(
                "message", room=room, text="into the void", reply_to=reply_to
            )
            error = await ann.next("error")
            assert error["code"] in ("unknown_message", "invalid_field")
        await ann.send("thread", room=room, id=first + 50, client_id="none")
        assert (await ann.next("error", ref="none"))["code"] == "unknown_message"
        assert await post(ann, room, "still here") == first + 1


async def test_a_thread_counts_what_its_reader_has_not_read(workers, sessions, room):
    ann_name, ann_session = sessions["ann"]
    ben_session = sessions["ben"][1]
    async with (
        chat(workers[0], session=ann_session) as ann,
        chat(workers[1], session=ben_session) as ben,
    ):
        await ann.join(room)
        await ben.join(room)
        root = await post(ann, room, "who reviews?")
        first = await post(ben, room, "me", reply_to=root)
        await ann.send("read", room=room, id=first)
        await ann.next("read", room=room)
        await post(ben, room, f"@{ann_name} and you?", reply_to=root)
        await post(ben, room, "or carol", reply_to=root)
        await post(ann, room, "fine", reply_to=root)
        await ann.send("thread", room=room, id=root, client_id="mine")
        view = await ann.next("thread", ref="mine")
    assert (view["unread"], view["mentions"]) == (2, 1)
