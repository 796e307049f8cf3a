"""Search over the rooms a user may read, against a real daphne worker:
who finds what (a matrix of rooms and users), the query's words, phrases and
filters, paging, and what an edit or a deletion takes out of it."""

import asyncio
import datetime

import pytest

from tests.chat_client import chat, registered_users, unique

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def worker(start_module_daphne, redis_url):
    return start_module_daphne(REDIS_URL=redis_url, CHAT_RATE_BURST="1000")


@pytest.fixture(scope="module")
def people(server_database_url):
    names = {role: unique(role) for role in ("ann", "ben", "cat")}
    sessions = registered_users(server_database_url, names.values())
    return {role: (name, sessions[name]) for role, name in names.items()}


async def search(client, query, **fields):
    await client.send("search", query=query, client_id="s", **fields)
    reply = await client.next("search", ref="s")
    return reply


async def post(client, room, text):
    await client.send("message", room=room, text=text)
    return (await client.next("message", room=room, text=text))["id"]


@pytest.fixture(scope="module")
def world(worker, people):
    """One word posted by ann in each kind of room: (word, {kind: room name})."""
    return asyncio.run(post_everywhere(worker, people))


async def post_everywhere(worker, people):
    word = unique("zebra")
    rooms = {"public": unique("pub-"), "private": unique("priv-")}
    rooms["banned"] = unique("ban-")
    async with chat(worker, session=people["ann"][1]) as ann:
        await ann.join(rooms["public"])
        await post(ann, rooms["public"], f"{word} in the open")
        await ann.send("create", room=rooms["private"], private=True)
        await ann.next("joined", room=rooms["private"])
        await ann.send("invite", room=rooms["private"], user=people["ben"][0])
        await ann.next("member", action="invited")
        await post(ann, rooms["private"], f"{word} among members")
        await ann.send("direct", user=people["cat"][0])
        rooms["direct"] = (await ann.next("joined"))["room"]
        await post(ann, rooms["direct"], f"{word} between two")
        await ann.join(rooms["banned"])
        await post(ann, rooms["banned"], f"{word} where ben is banned")
        await ann.send("ban", room=rooms["banned"], user=people["ben"][0])
        await ann.next("member", action="banned")
    return word, rooms


VISIBLE = {
    "ann": {"public", "private", "direct", "banned"},
    "ben": {"public", "private"},
    "cat": {"public", "direct", "banned"},
    "guest": {"public", "banned"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
async def test_each_user_finds_only_the_rooms_they_may_read(worker, people, world, who):
    word, rooms = world
    connection = (
        chat(worker, "guest" + unique(""))
        if who == "guest"
        else chat(worker, session=people[who][1])
    )
    async with connection as client:
        found = await search(client, word)
        by_name = await search(client, f"{word} in:{rooms['private']}")
    seen = {result["room"] for result in found["results"]}
    kinds = {kind for kind, name in rooms.items() if name in seen}
    assert kinds == VISIBLE[who]
    assert bool(by_name["results"]) == ("private" in VISIBLE[who])


async def test_words_phrases_authors_dates_and_pages(worker, people):
    room, word = unique("find-"), unique("kiwi")
    async with (
        chat(worker, session=people["ann"][1]) as ann,
        chat(worker, session=people["ben"][1]) as ben,
    ):
        await ann.join(room)
        await ben.join(room)
        await post(ann, room, f"{word}: the quick brown fox")
        await post(ben, room, f"{word}: brown, then quick")
        await post(ann, room, f"{word}: we deployed it")
        everything = await search(ann, word)
        phrase = await search(ann, f'{word} "quick brown"')
        from_ben = await search(ann, f"{word} from:{people['ben'][0]}")
        stem = await search(ann, f"{word} deploy")
        first = await search(ann, word, limit=2)
        second = await search(ann, word, limit=2, cursor=first["next"])
        tomorrow = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
        after = await search(ann, f"{word} after:{tomorrow}")
        before = await search(ann, f"{word} before:{tomorrow}")
        await ann.send("search", query="before:soon", client_id="bad")
        bad_date = await ann.next("error", ref="bad")
    texts = [r["text"] for r in everything["results"]]
    assert texts == [
        f"{word}: we deployed it",
        f"{word}: brown, then quick",
        f"{word}: the quick brown fox",
    ]
    assert [r["text"] for r in phrase["results"]] == [texts[2]]
    assert [r["text"] for r in from_ben["results"]] == [texts[1]]
    assert [r["text"] for r in stem["results"]] == [texts[0]]
    assert [r["text"] for r in first["results"] + second["results"]] == texts
    assert second["next"] is None
    assert after["results"] == [] and len(before["results"]) == 3
    assert bad_date["code"] == "invalid_field"


async def test_an_edit_or_a_deletion_takes_the_old_text_out(worker, people):
    room = unique("forget-")
    old, new, gone = unique("mango"), unique("papaya"), unique("lychee")
    async with chat(worker, session=people["ann"][1]) as ann:
        await ann.join(room)
        edited = await post(ann, room, f"{old} for lunch")
        deleted = await post(ann, room, f"{gone} for dinner")
        await ann.send("edit", room=room, id=edited, text=f"{new} for lunch")
        await ann.next("edit", target=edited)
        await ann.send("delete", room=room, id=deleted)
        await ann.next("delete", target=deleted)
        assert (await search(ann, old))["results"] == []
        assert (await search(ann, gone))["results"] == []
        assert [r["id"] for r in (await search(ann, new))["results"]] == [edited]


async def test_the_highlight_is_escaped_text_with_the_matches_marked(worker, people):
    room, word = unique("mark-"), unique("plum")
    async with chat(worker, session=people["ann"][1]) as ann:
        await ann.join(room)
        await post(ann, room, f'<img src=x onerror="alert(1)"> {word} & more')
        result = (await search(ann, word))["results"][0]
        await ann.send("search", query="x" * 201, client_id="long")
        too_long = await ann.next("error", ref="long")
        await ann.send("search", query="   ", client_id="empty")
        empty = await ann.next("error", ref="empty")
    assert "<img" not in result["highlight"]
    assert "&lt;img src=x onerror=" in result["highlight"]
    assert f"<mark>{word}</mark> &amp; more" in result["highlight"]
    assert (too_long["code"], empty["code"]) == ("text_too_long", "invalid_field")
