"""python -m bench.soak [--seconds N]: chat under mixed trouble, every message
and every change counted.

Two workers share Redis and a database of their own, made anew (on
DATABASE_URL's PostgreSQL server, or a fresh SQLite file), on loopback. For
the run's length: signed-in members chat in one room, each sender a few
actions a second: messages with a client_id (some mentioning
another member, some replying in a thread, some with a file uploaded over
HTTP just before), edits and deletions of their own messages, reactions to
anyone's, and searches for their own words; every member marks the room
read now and then. Clients join and
leave all the while; one member never reads; one client floods until it is
cut off; half-way, the first worker is killed with SIGKILL and its clients
come back on the other with ``since``, sending again what was not confirmed.
At the end every member catches up by id, and the report gives what each
worker's memory did and what was lost. All must be 0: every stored event
(message or change) reached every member; every message a sender sent was
stored once; the state each member built by applying the events in order is
the server's; and each member's unread count and mentions are what the log
and their last read imply; each thread's reply count is what the log
implies; every live message's files are served and a deleted one's are
gone; and a search finds each live, unedited message by its word and no
deleted or edited one. The exit status is 1 if any is not.
"""

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

import websockets

from bench import targets
from chat.protocol import mentioned
from clients.chat import ChatError, upload
from harness import accounts

ROOM = "soak"
MEMBERS_PER_WORKER = 6
SENDERS = 4  # of the members, alternating between the workers
SEND_PER_SECOND = 4  # each sender: under CHAT_RATE_PER_SECOND (10)
CHURN_LOOPS = 4
FLOOD_MESSAGES = 400
RECONNECT_SECONDS = 0.3
CATCH_UP_SECONDS = 30
EMOJI = ("👍", "🎉", "👀")
# Of a sender's actions: the share of each kind; the rest are messages.
EDITS, DELETES, REACTIONS, READS = 0.1, 0.05, 0.15, 0.05
SEARCHES = 0.05
# Of the messages: the share that reply in a thread, and that carry a file.
REPLIES, FILES = 0.2, 0.1
# Messages looked for by their word at the end.
SEARCHED_AT_THE_END = 30
UNREAD_CAP = 100  # CHAT_UNREAD_CAP's default


class Member:
    """A chat client that keeps every id it has seen, reconnects to the next
    worker when its connection drops, and (as a sender) sends again what was
    not yet seen stored."""

    def __init__(self, name, session, urls, first, sends, others):
        self.name = name
        self.session = session
        self.urls = urls
        self.turn = first
        self.sends = sends
        self.others = others  # names this member may mention
        self.ids = set()
        self.events = {}  # id -> the event as first received
        self.mine = []  # ids of this member's messages
        self.read_sent = 0  # the highest id this member marked read
        self.contiguous = 0  # every id up to this one seen
        self.asked_after = None  # the id a history request is out for
        self.joined_before = False
        self.pending = {}  # client_id -> the message's fields
        self.messages = []  # ids of messages seen (replies may go to any)
        self.searches = {"asked": 0, "answered": 0}
        self.sent = 0
        self.reconnects = 0
        self.websocket = None

    def url(self):
        return self.urls[self.turn % len(self.urls)]

    def connect(self):
        headers = {"Cookie": f"sessionid={self.session}"}
        return websockets.connect(
            self.url(), additional_headers=headers, max_queue=None
        )

    async def run(self, stop):
        while not stop.is_set():
            try:
                async with self.connect() as websocket:
                    self.websocket = websocket
                    await self.converse(websocket, stop)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                pass
            self.websocket = None
            if not stop.is_set():
                self.reconnects += 1
                self.turn += 1
                await asyncio.sleep(RECONNECT_SECONDS * random.uniform(0.5, 1.5))

    async def converse(self, websocket, stop):
        await self.join(websocket)
        sending = asyncio.create_task(self.send_steadily(websocket, stop))
        try:
            async for text in websocket:
                await self.take(websocket, json.loads(text))
                if stop.is_set():
                    break
        finally:
            sending.cancel()

    async def join(self, websocket):
        join = {"type": "join", "room": ROOM}
        if self.joined_before:
            join["since"] = self.contiguous
        await websocket.send(json.dumps(join))
        self.joined_before = True

    async def send_steadily(self, websocket, stop):
        for fields in list(self.pending.values()):
            await self.say(websocket, fields)
        while not stop.is_set():
            await asyncio.sleep(1 / SEND_PER_SECOND)
            dice = random.random()
            if dice < READS or not self.sends:
                if dice < READS:
                    await self.read(websocket)
                continue
            dice -= READS
            if dice < EDITS + DELETES and self.mine:
                target = random.choice(self.mine)
                if dice < EDITS:
                    change = {"type": "edit", "text": f"edited @{self.other()}"}
                else:
                    change = {"type": "delete"}
                await self.send(websocket, {**change, "id": target})
            elif dice < EDITS + DELETES + REACTIONS and self.events:
                target = random.choice(list(self.events))
                emoji = random.choice(EMOJI)
                await self.send(
                    websocket, {"type": "react", "id": target, "emoji": emoji}
                )
            elif dice < EDITS + DELETES + REACTIONS + SEARCHES and self.sent:
                self.searches["asked"] += 1
                word = word_of(f"{self.name}-{random.randrange(self.sent)}")
                await websocket.send(json.dumps({"type": "search", "query": word}))
            else:
                await self.post(websocket)

    async def post(self, websocket):
        client_id = f"{self.name}-{self.sent}"
        self.sent += 1
        fields = {"client_id": client_id, "text": f"{client_id} {word_of(client_id)}"}
        if random.random() < 0.3:
            fields["text"] += f" @{self.other()}"
        if self.messages and random.random() < REPLIES:
            fields["reply_to"] = random.choice(self.messages)
        if random.random() < FILES:
            data = f"notes of {client_id}\n".encode()
            try:
                sent = await upload(http(self.url()), self.session, ROOM, "n.txt", data)
            except (ChatError, OSError):
                pass  # its worker is down: the message goes without
            else:
                fields["files"] = [sent["id"]]
        self.pending[client_id] = fields
        await self.say(websocket, fields)

    def other(self):
        return random.choice(self.others)

    async def read(self, websocket):
        if self.contiguous > self.read_sent:
            self.read_sent = self.contiguous
            await self.send(websocket, {"type": "read", "id": self.contiguous})

    async def send(self, websocket, message):
        await websocket.send(json.dumps({**message, "room": ROOM}))

    async def say(self, websocket, fields):
        await websocket.send(json.dumps({"type": "message", "room": ROOM, **fields}))

    async def take(self, websocket, reply):
        kind = reply.get("type")
        if kind == "search":
            self.searches["answered"] += 1
            return
        if kind in ("joined", "history"):
            messages, newest = reply["messages"], reply["last_id"]
        elif kind in EVENTS:
            messages, newest = [reply], reply["id"]
        else:
            return
        for message in messages:
            self.ids.add(message["id"])
            self.events.setdefault(message["id"], message)
            if message["type"] != "message":
                continue
            if message["id"] not in self.messages:
                self.messages.append(message["id"])
            self.pending.pop(message.get("client_id"), None)
            if message["author"] == self.name and message["id"] not in self.mine:
                self.mine.append(message["id"])
        while self.contiguous + 1 in self.ids:
            self.contiguous += 1
        if kind not in EVENTS:
            self.asked_after = None  # a history answer: ask again if need be
        gap = max(newest, max(self.ids, default=0)) > self.contiguous
        if gap and self.asked_after != self.contiguous:
            self.asked_after = self.contiguous
            ask = {"type": "history", "room": ROOM, "after": self.contiguous}
            await websocket.send(json.dumps(ask))

    async def catch_up(self, last_id):
        """After the run: history until every id up to ``last_id`` is seen and
        every pending message confirmed."""
        async with asyncio.timeout(CATCH_UP_SECONDS):
            while self.contiguous < last_id or self.pending:
                with contextlib.suppress(OSError, websockets.ConnectionClosed):
                    async with self.connect() as ws:
                        self.asked_after = None
                        await self.join(ws)
                        for fields in list(self.pending.values()):
                            await self.say(ws, fields)
                        while self.contiguous < last_id or self.pending:
                            await self.take(ws, json.loads(await ws.recv()))
                            last_id = max(last_id, max(self.ids, default=0))
                self.turn += 1

    def state(self):
        """The room's messages as this member's events build them, applied in
        id order: id -> (text, deleted, reactions)."""
        return build_state(self.events[number] for number in sorted(self.events))

    async def counts(self):
        """What ``rooms`` says of this member's unread messages and mentions."""
        async with self.connect() as ws:
            await ws.send(json.dumps({"type": "rooms"}))
            while (reply := json.loads(await ws.recv()))["type"] != "rooms":
                pass
        room = next(r for r in reply["rooms"] if r["name"] == ROOM)
        return room["read"], room["unread"], room["mentions"]


EVENTS = ("message", "edit", "delete", "reaction", "member")


def word_of(client_id):
    """A word only this message has: letters and digits, ended by "z", so that
    neither full-text search nor a substring match finds it in another."""
    return "w" + client_id.replace("-", "x") + "z"


def http(ws_url):
    return ws_url.replace("ws://", "http://", 1).split("/ws/", 1)[0]


def build_state(events):
    """Messages after applying ``events`` in order: id -> [author, text,
    deleted, reactions, reply_to, files]; each change sets what it changes."""
    state = {}
    for event in events:
        kind, target = event["type"], state.get(event.get("target"))
        if kind == "message":
            state[event["id"]] = [
                event["author"],
                event["text"],
                event["deleted"],
                {emoji: sorted(users) for emoji, users in event["reactions"].items()},
                event["reply_to"],
                [file["url"] for file in event["files"]],
            ]
        elif target is None:
            continue
        elif kind == "edit":
            target[1] = event["text"]
        elif kind == "delete":
            target[1], target[2], target[3], target[5] = "", True, {}, []
        elif kind == "reaction":
            target[3] = {**target[3], event["emoji"]: sorted(event["users"])}
            if not event["users"]:
                del target[3][event["emoji"]]
    return state


def implied_counts(state, name, read):
    """Unread messages and mentions of ``name`` after ``read``, as the log
    implies them, capped as the server caps them."""
    after = [
        (author, text)
        for number, (author, text, deleted, *_) in state.items()
        if number > read and not deleted and author != name
    ]
    mentions = [1 for author, text in after if name in mentioned(text, author)]
    return min(len(after), UNREAD_CAP), min(len(mentions), UNREAD_CAP)


async def server_state(url, session):
    """The messages as the server holds them now (history after 0, paged):
    each with its text, deletion and reactions as they are at the end; and
    each thread root's count of replies."""
    state, threads, after = {}, {}, 0
    headers = {"Cookie": f"sessionid={session}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "join", "room": ROOM}))
        while True:
            await ws.send(json.dumps({"type": "history", "room": ROOM, "after": after}))
            while (reply := json.loads(await ws.recv()))["type"] != "history":
                pass
            if not reply["messages"]:
                return state, threads
            # Messages come as they are now; the changes are already in them.
            messages = [m for m in reply["messages"] if m["type"] == "message"]
            state.update(build_state(messages))
            threads.update(
                {m["id"]: m["thread"]["replies"] for m in messages if m["thread"]}
            )
            after = reply["messages"][-1]["id"]


def threads_miscounted(held, threads):
    """Roots whose reply count is not the log's: its live replies."""
    implied = {}
    for _, _, deleted, _, reply_to, _ in held.values():
        if reply_to is not None and not deleted:
            implied[reply_to] = implied.get(reply_to, 0) + 1
    return sum(threads.get(root, 0) != implied.get(root, 0) for root in held)


async def files_amiss(url, session, held, first_seen):
    """Files not as they should be: a live message's not served, or a deleted
    one's still served."""
    live = [f for message in held.values() for f in message[5]]
    gone = [
        f
        for number, event in first_seen.items()
        if event["type"] == "message" and held.get(number, [None] * 6)[2]
        for f in (file["url"] for file in event["files"])
    ]
    base, amiss = http(url), 0
    for path, wanted in [(f, 200) for f in live] + [(f, 404) for f in gone]:
        amiss += await asyncio.to_thread(status_of, base + path, session) != wanted
    return amiss, len(live), len(gone)


def status_of(address, session):
    request = urllib.request.Request(
        address, headers={"Cookie": f"sessionid={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


async def search_misses(url, session, held, first_seen):
    """Messages a search by their word answers wrongly: a live, unedited one
    not found (alone), or a deleted or edited one found."""
    original = {}
    for number, event in first_seen.items():
        words = event["text"].split() if event["type"] == "message" else []
        if number in held and len(words) > 1 and words[1].startswith("w"):
            original[number] = words[1]
    live = [
        n
        for n in original
        if not held[n][2] and held[n][1].split()[1:2] == [original[n]]
    ]
    changed = [n for n in original if n not in live]
    sample = random.sample(live, min(SEARCHED_AT_THE_END, len(live)))
    sample += random.sample(changed, min(SEARCHED_AT_THE_END, len(changed)))
    misses = 0
    headers = {"Cookie": f"sessionid={session}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        for number in sample:
            wanted = [number] if number in live else []
            misses += await search(ws, original[number]) != wanted
    return misses, len(sample)


async def search(ws, query):
    """The ids a search finds, asked again while the rate limit refuses it."""
    while True:
        await ws.send(json.dumps({"type": "search", "query": query, "client_id": "q"}))
        while (reply := json.loads(await ws.recv()))["type"] not in ("search", "error"):
            pass
        if reply["type"] == "search":
            return [result["id"] for result in reply["results"]]
        assert reply["code"] == "rate_limited", reply
        await asyncio.sleep(1 / SEND_PER_SECOND)


async def churn(urls, stop, counts):
    """Clients that join the room and leave, over and over."""
    number = 0
    while not stop.is_set():
        number += 1
        url = f"{random.choice(urls)}?name=churn{number}x{random.randrange(10**6)}"
        with contextlib.suppress(OSError, websockets.ConnectionClosed):
            async with websockets.connect(url) as websocket:
                await websocket.send(json.dumps({"type": "join", "room": ROOM}))
                await asyncio.sleep(random.uniform(0.05, 0.3))
                counts["churned"] += 1
        await asyncio.sleep(0.01)


async def never_read(url, stop, counts):
    """A member that joins and then reads nothing."""
    async with websockets.connect(f"{url}?name=sloth", max_queue=1) as websocket:
        await websocket.send(json.dumps({"type": "join", "room": ROOM}))
        await stop.wait()
        counts["slow reader"] = websocket.close_code or "still open"


async def flood(url, counts):
    """A client that sends as fast as it can until it is cut off."""
    async with websockets.connect(f"{url}?name=flood", max_queue=None) as websocket:
        await websocket.send(json.dumps({"type": "join", "room": ROOM}))
        with contextlib.suppress(websockets.ConnectionClosed):
            for number in range(FLOOD_MESSAGES):
                text = f"flood {number}"
                await websocket.send(
                    json.dumps({"type": "message", "room": ROOM, "text": text})
                )
            async for text in websocket:
                if json.loads(text).get("code") == "rate_limited":
                    counts["flood refused"] += 1
        counts["flood closed with"] = websocket.close_code


async def soak(seconds):
    # Its own, made anew: the checks count from the room's first id, and the
    # files live in this run's folder.
    database = targets.own_database("soak")
    redis = targets.redis_server().start()
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "DATABASE_URL": database,
        "CHAT_RATE_PER_SECOND": "10",  # the default, which the flood must meet
        "MEDIA_ROOT": tempfile.mkdtemp(prefix="soak-media-"),
    }
    workers = [targets.ours(cores=(core,), **settings).start() for core in (0, 1)]
    urls = [worker.url_for("/ws/chat/") for worker in workers]
    counts = {"churned": 0, "flood refused": 0}
    memory = {"start": [worker.memory() / 2**20 for worker in workers]}
    stop = asyncio.Event()
    run = uuid.uuid4().hex[:4]
    names = [f"s{run}m{number}" for number in range(2 * MEMBERS_PER_WORKER)]
    env = targets.environment(DATABASE_URL=database)
    sessions = await asyncio.to_thread(accounts.signed_in, names, env)
    members = [
        Member(
            name,
            sessions[name],
            urls,
            number % 2,
            sends=number < SENDERS,
            others=[other for other in names if other != name],
        )
        for number, name in enumerate(names)
    ]
    try:
        tasks = [asyncio.create_task(member.run(stop)) for member in members]
        tasks += [
            asyncio.create_task(churn(urls, stop, counts)) for _ in range(CHURN_LOOPS)
        ]
        tasks.append(asyncio.create_task(never_read(urls[1], stop, counts)))
        await asyncio.sleep(seconds / 4)
        await flood(urls[1], counts)
        await asyncio.sleep(seconds / 4)
        memory["before the kill"] = [worker.memory() / 2**20 for worker in workers]
        workers[0].process.send_signal(signal.SIGKILL)
        await asyncio.sleep(seconds / 2)
        memory["end (survivor)"] = [workers[1].memory() / 2**20]
        stop.set()
        await asyncio.sleep(1)  # what is in flight lands
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A sender's catching up may store what it had sent unconfirmed, so
        # every member catches up again until no new id appears.
        last_id = -1
        while last_id != (newest := max(max(m.ids, default=0) for m in members)):
            last_id = newest
            for member in members:
                member.urls = urls[1:]
                await member.catch_up(last_id)
        held, threads = await server_state(urls[1], members[0].session)
        differing = sum(member.state() != held for member in members)
        first_seen = members[0].events
        files_wrong, files_live, files_gone = await files_amiss(
            urls[1], members[0].session, held, first_seen
        )
        searched_wrong, searched = await search_misses(
            urls[1], members[0].session, held, first_seen
        )
        wrong_counts = 0
        for member in members:
            read, unread, mentions = await member.counts()
            implied = implied_counts(held, member.name, member.read_sent)
            wrong_counts += (read, unread, mentions) != (member.read_sent, *implied)
    finally:
        for server in [*workers, redis]:
            server.stop()
    lost = sum(len(set(range(1, last_id + 1)) - member.ids) for member in members)
    unconfirmed = sum(len(member.pending) for member in members)
    events = members[0].events.values()
    kinds = [event["type"] for event in events]
    sent_ids = [
        event["client_id"]
        for event in events
        if event["type"] == "message" and event["client_id"]
    ]
    return {
        "seconds": seconds,
        "stored": last_id,
        "sent by senders": sum(member.sent for member in members),
        "changes": {kind: kinds.count(kind) for kind in EVENTS[1:4]},
        "reads": sum(1 for member in members if member.read_sent),
        "lost": lost,
        "unconfirmed": unconfirmed,
        "stored twice": len(sent_ids) - len(set(sent_ids)),
        "members whose state differs from the server's": differing,
        "members whose counts differ from the log's": wrong_counts,
        "threads whose reply count differs from the log's": threads_miscounted(
            held, threads
        ),
        "replies": sum(1 for message in held.values() if message[4] is not None),
        "files served, of live messages": files_live,
        "files gone, of deleted messages": files_gone,
        "files not as they should be": files_wrong,
        "searches during the run": {
            key: sum(m.searches[key] for m in members) for key in ("asked", "answered")
        },
        "searched at the end": searched,
        "search misses": searched_wrong,
        "reconnects": sum(member.reconnects for member in members),
        "worker killed at": f"{seconds / 2:.0f} s",
        **counts,
        "memory MB": {
            name: [round(mb, 1) for mb in values] for name, values in memory.items()
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.seconds))
    print(json.dumps(report, indent=2))
    failed = [
        report[check]
        for check in (
            "lost",
            "unconfirmed",
            "stored twice",
            "members whose state differs from the server's",
            "members whose counts differ from the log's",
            "threads whose reply count differs from the log's",
            "files not as they should be",
            "search misses",
        )
    ]
    return 1 if any(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
