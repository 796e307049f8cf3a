"""The ``search`` mode: how long ``search`` takes for a user in many rooms
over a large history, with the query plan of the slowest kind of query.

On a database of its own (PostgreSQL for docs/benchmarks.md's figures), it
stores ``search_rooms_total`` rooms of ``search_messages / rooms`` messages,
each of eight words drawn from a vocabulary of 1,000 where a few words are
common and most are rare (word k has weight about 1/sqrt(k)). The reader
sees ``search_reader_rooms`` of the rooms (public ones and the private ones
they belong to). PostgreSQL's tables are vacuumed and analysed, as
autovacuum keeps a live database. One worker serves; one WebSocket
connection asks each kind of query in turn, a common word, a middling one,
a rare one, a phrase, and a word with ``from:``, and times each answer.
"""

import asyncio
import json
import statistics
import time
import uuid

import websockets

from bench import targets
from bench.unread import manage
from harness import accounts

VOCABULARY = 1000
WORDS_PER_MESSAGE = 8

POPULATE = """
import datetime, json
from django.contrib import auth
from django.db import connection, transaction
from chat.models import Event, Membership, Room
shape = json.loads({shape!r})
prefix, per_room = shape["prefix"], shape["per_room"]
total, public, mine = shape["rooms"], shape["public"], shape["reader_rooms"]
users = auth.get_user_model().objects
reader, _ = users.get_or_create(username=prefix + "reader")
writers = [users.get_or_create(username=prefix + f"writer{{n}}")[0] for n in range(4)]
now = datetime.datetime.now(datetime.UTC)
series = (
    "WITH RECURSIVE series(i) AS"
    " (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < %s)"
)
# Word k of the vocabulary for a pseudo-random h in [0, 1): k = floor(V * h^2),
# so that low k are common, as in a language.
word = (
    "'w' || CAST(floor({vocabulary} * power("
    "((CAST(s.i AS BIGINT) * %s + r.id * 7919) %% 10007) / 10007.0, 2)) AS INTEGER)"
)
text = " || ' ' || ".join(word for _ in range({per_message}))
primes = [104729, 1299709, 15485863, 179424673, 2038074743, 982451653,
          32452843, 49979687]
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
        " SELECT r.id, s.i, 0, %s || (s.i %% 4), NULL, " + text + ","
        " %s, false, false"
        f" FROM {{Room._meta.db_table}} r, series s WHERE r.name LIKE %s",
        [per_room, prefix + "writer"] + primes[:{per_message}] + [now, prefix + "%"],
    )
rooms = list(Room.objects.filter(name__startswith=prefix).order_by("id"))
belongs = [room for room in rooms if room.private][: mine - public]
Membership.objects.bulk_create(Membership(room=room, user=reader) for room in belongs)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
made = {{"reader": reader.username, "prefix": prefix}}
print(json.dumps(made | {{"stored": Event.objects.count()}}))
"""

PLAN = """
import json
from django.contrib.auth import get_user_model
from django.db import connection
from chat import search
captured = []
reader = get_user_model().objects.get(username={reader!r})
def capture(run, sql, params, many, context):
    captured.append((sql, params))
    return run(sql, params, many, context)
with connection.execute_wrapper(capture):
    search.search(reader, {query!r}, None, 20)
sql, params = captured[-1]
postgres = connection.vendor == "postgresql"
with connection.cursor() as cursor:
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    cursor.execute(explain + sql, params)
    lines = [row[0] if postgres else row[-1] for row in cursor.fetchall()]
    print(json.dumps(lines))
"""


def queries(prefix):
    """Each kind of query the reader asks, by name."""
    return {
        "common word": "w1",
        "middling word": "w250",
        "rare word": "w990",
        "phrase": '"w2 w3"',
        "word from: one writer": f"w40 from:{prefix}writer1",
    }


def populate(database, plan):
    shape = {
        "prefix": f"s{uuid.uuid4().hex[:6]}-",
        "rooms": plan.search_rooms_total,
        "public": plan.search_reader_rooms * 3 // 4,
        "reader_rooms": plan.search_reader_rooms,
        "per_room": plan.search_messages // plan.search_rooms_total,
    }
    code = POPULATE.format(
        shape=json.dumps(shape), vocabulary=VOCABULARY, per_message=WORDS_PER_MESSAGE
    )
    made = json.loads(manage(database, code))
    env = targets.environment(DATABASE_URL=database)
    made["session"] = accounts.signed_in([made["reader"]], env)[made["reader"]]
    return made


async def time_searches(url, session, asked, asks):
    """Seconds each answer took, by query name, and results per query."""
    headers = {"Cookie": f"sessionid={session}"}
    timings = {name: [] for name in asked}
    found = {}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        for number in range(asks):
            name = list(asked)[number % len(asked)]
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "search", "query": asked[name]}))
            while True:
                reply = json.loads(await ws.recv())
                if reply["type"] in ("search", "error"):
                    break
            timings[name].append(time.perf_counter() - started)
            found[name] = len(reply.get("results", []))
    return timings, found


def percentile(values, share):
    values = sorted(values)
    return values[max(0, int(len(values) * share) - 1)] * 1000


async def measure_search(plan):
    database = await asyncio.to_thread(targets.own_database, "search")
    made = await asyncio.to_thread(populate, database, plan)
    engine = database.split(":", 1)[0]
    asked = queries(made["prefix"])
    server = targets.ours(DATABASE_URL=database).start()
    try:
        url = server.url_for("/ws/chat/")
        await time_searches(url, made["session"], asked, len(asked))  # warm
        timings, found = await time_searches(
            url, made["session"], asked, plan.search_asks
        )
    finally:
        server.stop()
    slowest = max(asked, key=lambda name: percentile(timings[name], 0.99))
    code = PLAN.format(reader=made["reader"], query=asked[slowest])
    query_plan = json.loads(await asyncio.to_thread(manage, database, code))
    everything = [t for one in timings.values() for t in one]
    rows = [
        {
            "target": f"ours, {engine}, {name}",
            "stored_events": made["stored"],
            "results": found[name],
            "p50_ms": statistics.median(timings[name]) * 1000,
            "p99_ms": percentile(timings[name], 0.99),
            "asks": len(timings[name]),
        }
        for name in asked
    ]
    rows.append(
        {
            "target": f"ours, {engine}, all kinds",
            "stored_events": made["stored"],
            "results": sum(found.values()),
            "p50_ms": statistics.median(everything) * 1000,
            "p99_ms": percentile(everything, 0.99),
            "asks": len(everything),
            "plan_of": slowest,
            "plan": query_plan,
        }
    )
    return rows
