"""The ``unread`` mode: how long ``rooms`` takes for a user in many rooms over
a large history, with unread counts and mentions, with the index that serves
it and without.

On a database of its own, made beside DATABASE_URL's (PostgreSQL for
docs/benchmarks.md's figures; else a fresh SQLite file), since it drops an
index, it stores ``rooms_total`` rooms of ``messages / rooms_total``
messages each, one in twenty of which mentions the reader. The reader sees
``reader_rooms`` of them (the public ones and the private ones they belong
to) and has read each to a different point, from nothing to all of it.
PostgreSQL's tables are then vacuumed and analysed, as autovacuum keeps a
live database. One
worker serves; one WebSocket connection asks ``rooms`` again and again and
times each answer. Then the ``chat_unread`` index is dropped, the same is
timed, and the index is made again.
"""

import asyncio
import json
import statistics
import time
import uuid

import websockets

from bench import targets
from harness import accounts

# Every twentieth message mentions the reader.
MENTION_EVERY = 20

POPULATE = """
import datetime, json
from django.contrib import auth
from django.db import connection, transaction
from chat.models import Event, Membership, Mention, ReadState, Room
shape = json.loads({shape!r})
prefix, per_room = shape["prefix"], shape["per_room"]
total, public, mine = shape["rooms"], shape["public"], shape["reader_rooms"]
users = auth.get_user_model().objects
reader, _ = users.get_or_create(username=prefix + "reader")
writer, _ = users.get_or_create(username=prefix + "writer")
now = datetime.datetime.now(datetime.UTC)
series = (
    "WITH RECURSIVE series(i) AS"
    " (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < %s)"
)
with transaction.atomic(), connection.cursor() as cursor:
    cursor.execute(
        series + f" INSERT INTO {{Room._meta.db_table}}"
        " (name, private, last_seq, epoch, created)"
        " SELECT %s || i, i > %s, %s, 'bench', %s FROM series",
        [total, prefix, public, per_room, now],
    )
    cursor.execute(
        series + f" INSERT INTO {{Event._meta.db_table}}"
        " (room_id, seq, kind, author, user_id, text, created, edited, deleted)"
        " SELECT r.id, s.i, 0, %s, %s, CASE WHEN s.i %% %s = 0"
        "   THEN 'see this @' || %s ELSE 'message ' || s.i END, %s, false, false"
        f" FROM {{Room._meta.db_table}} r, series s WHERE r.name LIKE %s",
        [per_room, writer.username, writer.pk, {every}, reader.username, now]
        + [prefix + "%"],
    )
    cursor.execute(
        series + f" INSERT INTO {{Mention._meta.db_table}} (room_id, seq, name)"
        " SELECT r.id, s.i * %s, %s"
        f" FROM {{Room._meta.db_table}} r, series s WHERE r.name LIKE %s",
        [per_room // {every}, {every}, reader.username, prefix + "%"],
    )
rooms = list(Room.objects.filter(name__startswith=prefix).order_by("id"))
belongs = [room for room in rooms if room.private][: mine - public]
Membership.objects.bulk_create(Membership(room=room, user=reader) for room in belongs)
seen = [room for room in rooms if not room.private] + belongs
ReadState.objects.bulk_create(
    ReadState(room=room, user=reader, seq=(number * 37) % (per_room + 1))
    for number, room in enumerate(seen)
)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
print(json.dumps({{"reader": reader.username, "stored": Event.objects.count()}}))
"""

DROP_INDEX = "DROP INDEX chat_unread"
MAKE_INDEX = """
from django.db import connection
from chat.models import Event
index = next(i for i in Event._meta.indexes if i.name == "chat_unread")
with connection.schema_editor() as editor:
    editor.add_index(Event, index)
"""


def manage(database, code):
    """The last line ``code`` prints, run against ``database``."""
    output = accounts.manage_shell(code, targets.environment(DATABASE_URL=database))
    return output.splitlines()[-1] if output else ""


def populate(database, plan):
    shape = {
        "prefix": f"u{uuid.uuid4().hex[:6]}-",
        "rooms": plan.unread_rooms_total,
        "public": plan.unread_reader_rooms * 3 // 4,
        "reader_rooms": plan.unread_reader_rooms,
        "per_room": plan.unread_messages // plan.unread_rooms_total,
    }
    code = POPULATE.format(shape=json.dumps(shape), every=MENTION_EVERY)
    made = json.loads(manage(database, code))
    env = targets.environment(DATABASE_URL=database)
    made["session"] = accounts.signed_in([made["reader"]], env)[made["reader"]]
    return made


def drop_index(database):
    manage(
        database,
        "from django.db import connection\n"
        f"connection.cursor().execute({DROP_INDEX!r})",
    )


async def time_rooms(url, session, asks):
    """Seconds each ``rooms`` answer took, one after another, and its rooms."""
    headers = {"Cookie": f"sessionid={session}"}
    timings, listed = [], None
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        for _ in range(asks):
            started = time.perf_counter()
            await ws.send('{"type": "rooms"}')
            while True:
                reply = json.loads(await ws.recv())
                if reply["type"] == "rooms":
                    break
            timings.append(time.perf_counter() - started)
            listed = reply["rooms"] + reply["direct"]
    return timings, listed


def figures(timings, listed, stored):
    timings = sorted(timings)
    return {
        "stored_events": stored,
        "rooms_listed": len(listed),
        "unread_total": sum(room["unread"] for room in listed),
        "mentions_total": sum(room["mentions"] for room in listed),
        "p50_ms": statistics.median(timings) * 1000,
        "p99_ms": timings[int(len(timings) * 0.99) - 1] * 1000,
        "asks": len(timings),
    }


async def measure_unread(plan):
    database = await asyncio.to_thread(targets.own_database, "unread")
    made = await asyncio.to_thread(populate, database, plan)
    engine = database.split(":", 1)[0]
    rows = []
    for indexed in (True, False):
        if not indexed:
            await asyncio.to_thread(drop_index, database)
        server = targets.ours(DATABASE_URL=database).start()
        try:
            url = server.url_for("/ws/chat/")
            await time_rooms(url, made["session"], 5)  # a warm connection pool
            timings, listed = await time_rooms(url, made["session"], plan.unread_asks)
        finally:
            server.stop()
        index = "with the chat_unread index" if indexed else "without it"
        rows.append(
            {"target": f"ours, {engine}, {index}"}
            | figures(timings, listed, made["stored"])
        )
    await asyncio.to_thread(manage, database, MAKE_INDEX)
    return rows
