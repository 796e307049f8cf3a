"""Private rooms, moderation, edits, deletions, reactions, read state and
epochs, against two real daphne workers sharing Redis and the database."""

import asyncio
import json

import pytest

from tests.browser_session import BrowserSession
from tests.chat_client import chat, manage_shell, registered_users, unique

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    return [start_module_daphne(**settings) for _ in range(2)]


@pytest.fixture(scope="module")
def people(server_database_url):
    """Registered users made once for the module: {role: (name, session)}."""
    roles = ["owner", "bob", "carol", "mallory"]
    names = {role: unique(role) for role in roles}
    sessions = registered_users(server_database_url, names.values())
    return {role: (name, sessions[name]) for role, name in names.items()}


def person(workers, people, role, worker=0):
    """A chat connection of ``role``'s on one of the two workers."""
    return chat(workers[worker], session=people[role][1])


@pytest.fixture
def room():
    return unique("room-")


async def private_room(owner, room, *members):
    """``owner`` makes a private room and invites ``members`` (names)."""
    await owner.send("create", room=room, private=True)
    assert (await owner.next("joined", room=room))["role"] == "owner"
    for name in members:
        await owner.send("invite", room=room, user=name)
        await owner.next("member", room=room, user=name, action="invited")


# Private rooms: who may do what.


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
        ("edit", {"id": 1, "text": "mine now"}, "not_joined"),
        ("delete", {"id": 1}, "not_joined"),
        ("react", {"id": 1, "emoji": "👍"}, "not_joined"),
        ("read", {"id": 1}, "not_joined"),
        ("members", {}, "forbidden"),
        ("invite", {"user": "someone"}, "forbidden"),
        ("remove", {"user": "someone"}, "forbidden"),
        ("ban", {"user": "someone"}, "forbidden"),
        ("unban", {"user": "someone"}, "forbidden"),
        ("mute", {"user": "someone"}, "forbidden"),
        ("unmute", {"user": "someone"}, "forbidden"),
        ("role", {"user": "someone", "role": "moderator"}, "forbidden"),
        ("depart", {}, "forbidden"),
        ("create", {"private": True}, "room_exists"),
    ],
)
async def test_a_private_room_refuses_a_non_member_whatever_they_send(
    workers, people, room, type_, fields, code
):
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "carol", 1) as carol,
    ):
        await private_room(owner, room)
        await owner.say(room, "members only")
        await owner.next("message", room=room)
        await carol.send(type_, room=room, **fields)
        assert (await carol.next("error"))["code"] == code
        await carol.send("rooms")
        assert room not in [r["name"] for r in (await carol.next("rooms"))["rooms"]]
        await owner.expect_silence("message", room=room, seconds=0.2)


async def test_an_invited_member_hears_of_it_joins_posts_and_sees_the_room_listed(
    workers, people, room
):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 1) as b,
    ):
        await b.ready()
        await private_room(owner, room, bob)
        assert (await b.next("invited", room=room))["by"] == people["owner"][0]
        await b.send("rooms")
        listed = {r["name"]: r for r in (await b.next("rooms"))["rooms"]}
        assert listed[room]["private"] is True
        assert listed[room]["role"] == "member"
        joined = await b.join(room)
        assert joined["private"] is True
        assert [m["action"] for m in joined["messages"]] == ["invited"]
        await b.say(room, "thanks")
        await owner.next("message", room=room, text="thanks")
        await owner.send("members", room=room)
        members = (await owner.next("members", room=room))["members"]
        assert [(m["user"], m["role"]) for m in members] == [
            (people["owner"][0], "owner"),
            (bob, "member"),
        ]


async def test_a_removed_member_stops_receiving_at_once_and_cannot_rejoin(
    workers, people, room
):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 1) as b,
    ):
        await private_room(owner, room, bob)
        await b.join(room)
        await owner.send("remove", room=room, user=bob)
        removed = await b.next("removed", room=room)
        assert removed["reason"] == "removed"
        await owner.say(room, "after bob")
        await owner.next("message", room=room, text="after bob")
        await b.expect_silence("message", room=room, seconds=0.3)
        await b.send("join", room=room)
        assert (await b.next("error"))["code"] == "forbidden"


async def test_a_member_departs_and_every_tab_of_theirs_hears_it(workers, people, room):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 0) as tab1,
        person(workers, people, "bob", 1) as tab2,
    ):
        await private_room(owner, room, bob)
        await tab1.join(room)
        await tab2.join(room)
        await tab1.send("depart", room=room)
        for tab in (tab1, tab2):
            assert (await tab.next("removed", room=room))["reason"] == "departed"
        event = await owner.next("member", room=room, action="departed")
        assert event["user"] == bob
        await tab2.send("message", room=room, text="still here?")
        assert (await tab2.next("error"))["code"] == "not_joined"


async def test_direct_rooms_are_private_rooms_of_two_without_moderators(
    workers, people
):
    bob = people["bob"][0]
    async with person(workers, people, "owner", 0) as owner:
        await owner.send("direct", user=bob)
        joined = await owner.next("joined")
        assert joined["private"] is True
        assert joined["role"] == "member"
        await owner.send("invite", room=joined["room"], user=people["carol"][0])
        assert (await owner.next("error"))["code"] == "forbidden"


# Moderation.


async def test_a_banned_user_is_removed_from_every_worker_at_once_and_cannot_rejoin(
    workers, people, room, server_database_url
):
    mallory = people["mallory"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "mallory", 0) as tab1,
        person(workers, people, "mallory", 1) as tab2,
        chat(workers[1], unique("guest")) as guest,
    ):
        await owner.join(room)  # a public room, made by its owner
        for client in (tab1, tab2, guest):
            await client.join(room)
        await owner.send("ban", room=room, user=mallory)
        for tab in (tab1, tab2):
            assert (await tab.next("removed", room=room))["reason"] == "banned"
        event = await guest.next("member", room=room, action="banned")
        assert event["user"] == mallory
        assert event["by"] == people["owner"][0]
        await guest.say(room, "is she gone?")
        await owner.next("message", room=room, text="is she gone?")
        await tab2.expect_silence("message", room=room, seconds=0.3)
        await tab1.send("join", room=room)
        assert (await tab1.next("error"))["code"] == "banned"
        await tab1.send("rooms")
        assert room not in [r["name"] for r in (await tab1.next("rooms"))["rooms"]]

    actions = await asyncio.to_thread(
        manage_shell,
        server_database_url,
        "from chat.models import ModerationAction as A\n"
        f"for a in A.objects.filter(room__name={room!r}):"
        " print(a.actor.username, a.action, a.subject, a.created is not None)",
    )
    assert actions == f"{people['owner'][0]} ban {mallory} True"

    admin = unique("admin")
    await asyncio.to_thread(
        manage_shell,
        server_database_url,
        "from django.contrib.auth import get_user_model\n"
        f"get_user_model().objects.create_superuser({admin!r}, password='pw-{admin}')",
    )
    browser = BrowserSession(workers[0])
    await asyncio.to_thread(browser.log_in, admin, f"pw-{admin}")
    listing = await asyncio.to_thread(
        browser.get, f"/admin/chat/moderationaction/?q={room}"
    )
    assert mallory.encode() in listing
    assert b"ban" in listing


async def test_a_muted_user_reads_but_cannot_post_until_unmuted(workers, people, room):
    carol = people["carol"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "carol", 1) as c,
    ):
        await owner.join(room)
        await c.join(room)
        await owner.say(room, "hello")
        first = await c.next("message", room=room)
        await owner.send("mute", room=room, user=carol)
        await c.next("member", room=room, user=carol, action="muted")
        await c.say(room, "but I want to talk", client_id="m1")
        error = await c.next("error")
        assert (error["code"], error["ref"]) == ("muted", "m1")
        await c.send("react", room=room, id=first["id"], emoji="👍")
        assert (await c.next("error"))["code"] == "muted"
        await owner.say(room, "still reading?")
        assert (await c.next("message", room=room))["text"] == "still reading?"
        await owner.send("unmute", room=room, user=carol)
        await c.next("member", room=room, user=carol, action="unmuted")
        await c.say(room, "thank you")
        await owner.next("message", room=room, text="thank you")


async def test_moderators_are_appointed_by_the_owner_and_delete_anyones_message(
    workers, people, room
):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 1) as b,
        person(workers, people, "mallory", 1) as m,
    ):
        await owner.join(room)
        await b.join(room)
        await m.join(room)
        await m.say(room, "spam")
        spam = await b.next("message", room=room, text="spam")
        await b.send("delete", room=room, id=spam["id"])
        assert (await b.next("error"))["code"] == "forbidden"
        await owner.send("role", room=room, user=bob, role="moderator")
        await b.next("member", room=room, user=bob, action="role")
        await b.send("ban", room=room, user=people["owner"][0])
        assert (await b.next("error"))["code"] == "forbidden"
        await b.send("delete", room=room, id=spam["id"])
        deletion = await m.next("delete", room=room)
        assert (deletion["target"], deletion["by"]) == (spam["id"], bob)


# Edits, deletions and reactions: events in the room's order.


async def test_changes_reach_a_member_who_was_away_once_and_in_order(
    workers, people, room, server_database_url
):
    alice = unique("alice")
    async with chat(workers[0], alice) as a:
        await a.join(room)
        for text in ("typo here", "react to me", "take me back"):
            await a.say(room, text)
        ids = [(await a.next("message", room=room))["id"] for _ in range(3)]
        async with chat(workers[1], unique("bob")) as b:
            joined = await b.join(room)
            since = joined["last_id"]
        await a.send("edit", room=room, id=ids[0], text="no typo here @nobody")
        await a.send("react", room=room, id=ids[1], emoji="🎉")
        await a.send("react", room=room, id=ids[1], emoji="👍")
        await a.send("react", room=room, id=ids[1], emoji="🎉")  # taken back
        await a.send("delete", room=room, id=ids[2])
        await a.next("delete", room=room)

    async with chat(workers[1], unique("bob")) as b:
        joined = await b.join(room, since=since)
        changes = [(m["type"], m["id"], m.get("target")) for m in joined["messages"]]
        assert changes == [
            ("edit", since + 1, ids[0]),
            ("reaction", since + 2, ids[1]),
            ("reaction", since + 3, ids[1]),
            ("reaction", since + 4, ids[1]),
            ("delete", since + 5, ids[2]),
        ]
        assert [m.get("users") for m in joined["messages"][1:4]] == [
            [alice],
            [alice],
            [],
        ]
        await b.send("history", room=room, after=0)
        history = {m["id"]: m for m in (await b.next("history", room=room))["messages"]}
        assert (history[ids[0]]["text"], history[ids[0]]["edited"]) == (
            "no typo here @nobody",
            True,
        )
        assert history[ids[1]]["reactions"] == {"👍": [alice]}
        assert (history[ids[2]]["text"], history[ids[2]]["deleted"]) == ("", True)

    texts = await asyncio.to_thread(
        manage_shell,
        server_database_url,
        "from django.db.models import Q\nfrom chat.models import Event\n"
        f"print(Event.objects.filter(room__name={room!r})"
        f".filter(Q(seq={ids[2]}) | Q(target={ids[2]})).exclude(text='').count())",
    )
    assert texts == "0"


async def test_only_the_author_edits_and_deleted_messages_cannot_change(workers, room):
    async with (
        chat(workers[0], unique("alice")) as a,
        chat(workers[1], unique("bob")) as b,
    ):
        await a.join(room)
        await b.join(room)
        await a.say(room, "mine")
        mine = await b.next("message", room=room)
        await b.send("edit", room=room, id=mine["id"], text="ours")
        assert (await b.next("error"))["code"] == "forbidden"
        await b.send("delete", room=room, id=mine["id"])
        assert (await b.next("error"))["code"] == "forbidden"
        await a.send("delete", room=room, id=mine["id"])
        await b.next("delete", room=room)
        for type_, fields in [
            ("edit", {"text": "again"}),
            ("delete", {}),
            ("react", {"emoji": "👍"}),
        ]:
            await a.send(type_, room=room, id=mine["id"], **fields)
            assert (await a.next("error"))["code"] == "unknown_message"
        await a.send("react", room=room, id=mine["id"], emoji="thumbs up")
        assert (await a.next("error"))["code"] == "invalid_emoji"


# Read state, unread counts and mentions.


async def unread_of(client, room):
    await client.send("rooms")
    listed = {r["name"]: r for r in (await client.next("rooms"))["rooms"]}
    return listed[room]["unread"], listed[room]["mentions"]


async def test_reading_in_one_tab_clears_the_count_in_another_across_workers(
    workers, people, room
):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 0) as tab1,
        person(workers, people, "bob", 1) as tab2,
    ):
        await owner.join(room)
        await tab1.join(room)
        await tab2.ready()
        for text in ("one", f"hey @{bob}", "three", f"@{bob} again"):
            await owner.say(room, text)
        messages = [await tab1.next("message", room=room) for _ in range(4)]
        assert await unread_of(tab2, room) == (4, 2)

        await tab1.send("read", room=room, id=messages[1]["id"])
        for tab in (tab1, tab2):
            read = await tab.next("read", room=room)
            assert (read["id"], read["unread"], read["mentions"]) == (
                messages[1]["id"],
                2,
                1,
            )
        await owner.send("delete", room=room, id=messages[3]["id"])
        await owner.send("edit", room=room, id=messages[2]["id"], text=f"3 @{bob}")
        await tab1.next("edit", room=room)
        assert await unread_of(tab2, room) == (1, 1)
        await tab1.send("read", room=room, id=messages[1]["id"] - 1)  # never back
        assert (await tab2.next("read", room=room))["id"] == messages[1]["id"]
        await tab1.send("read", room=room, id=10**9)
        assert (await tab2.next("read", room=room))["unread"] == 0
        assert await unread_of(tab2, room) == (0, 0)
        await owner.say(room, "own messages are read")
        await owner.next("message", room=room, text="own messages are read")
        assert await unread_of(owner, room) == (0, 0)


async def test_a_direct_room_shows_how_far_the_other_person_has_read(workers, people):
    bob = people["bob"][0]
    async with (
        person(workers, people, "owner", 0) as owner,
        person(workers, people, "bob", 1) as b,
    ):
        await owner.send("direct", user=bob)
        room = (await owner.next("joined"))["room"]
        await b.send("direct", user=people["owner"][0])
        await b.next("joined", room=room)
        await owner.say(room, "did you see this?")
        message = await b.next("message", room=room)
        await b.send("read", room=room, id=message["id"])
        seen = await owner.next("read", room=room, user=bob)
        assert (seen["id"], seen["unread"]) == (message["id"], None)
        await owner.send("direct", user=bob)
        assert (await owner.next("joined", room=room))["seen"] == {bob: message["id"]}


async def test_guests_have_no_read_state(workers, room):
    async with chat(workers[0], unique("guest")) as guest:
        await guest.join(room)
        await guest.send("read", room=room, id=1)
        assert (await guest.next("error"))["code"] == "login_required"


# Epochs: a history that cannot continue is reloaded, not merged.


async def test_resuming_with_another_epoch_or_a_future_id_is_told_to_reset(
    workers, room, server_database_url
):
    async with chat(workers[0], unique("alice")) as a:
        joined = await a.join(room)
        for number in range(3):
            await a.say(room, f"m{number}")
            await a.next("message", room=room)
        epoch = joined["epoch"]
        resumed = await a.join(room, since=1, epoch=epoch)
        assert (resumed["reset"], [m["id"] for m in resumed["messages"]]) == (
            False,
            [2, 3],
        )

    await asyncio.to_thread(
        manage_shell,
        server_database_url,
        "from django.core.management import call_command\n"
        f"call_command('chat_new_epoch', {room!r})",
    )
    async with chat(workers[1], unique("alice")) as a:
        resumed = await a.join(room, since=1, epoch=epoch)
        assert resumed["reset"] is True
        assert resumed["epoch"] != epoch
        assert [m["id"] for m in resumed["messages"]] == [1, 2, 3]
        ahead = await a.join(room, since=99, epoch=resumed["epoch"])
        assert ahead["reset"] is True


async def test_a_room_made_again_has_a_new_epoch(workers, room, server_database_url):
    async with chat(workers[0], unique("alice")) as a:
        old = await a.join(room)
        await a.say(room, "in the first room")
        await a.next("message", room=room)
    await asyncio.to_thread(
        manage_shell,
        server_database_url,
        f"from chat.models import Room\nRoom.objects.filter(name={room!r}).delete()",
    )
    async with chat(workers[1], unique("alice")) as a:
        again = await a.join(room, since=1, epoch=old["epoch"])
        assert (again["reset"], again["messages"], again["last_id"]) == (True, [], 0)
        assert again["epoch"] != old["epoch"]


async def test_changes_travel_as_plain_json_events(workers, room):
    """Every event kind is one JSON object with the fields the protocol names."""
    async with chat(workers[0], unique("alice")) as a:
        await a.join(room)
        await a.say(room, "x")
        message = await a.next("message", room=room)
        assert set(message) == {
            "type",
            "room",
            "id",
            "author",
            "text",
            "html",
            "ts",
            "client_id",
            "edited",
            "deleted",
            "reactions",
            "reply_to",
            "thread",
            "files",
        }
        await a.send("react", room=room, id=message["id"], emoji="👍")
        reaction = await a.next("reaction", room=room)
        assert json.loads(json.dumps(reaction))["users"] == [message["author"]]
