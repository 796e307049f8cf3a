"""A paced two-writer chat through the Python client library, for the tests
that provoke a failure in the middle of one and then count every message."""

import asyncio

from clients.chat import OPEN, ChatClient

PER_WRITER = 60
PACE_SECONDS = 0.02
# A bound, not an expectation: every member has it all within seconds.
CONVERGE_SECONDS = 45


def member(name, urls, first=0, dead=()):
    """A client that connects to ``urls[first]``, then to the live ones in
    turn (``dead`` holds those it should pass over)."""

    def url(attempt):
        alive = [each for each in urls if each not in dead]
        return f"{alive[(first + attempt) % len(alive)]}?name={name}"

    return ChatClient(url, user=name, first_retry=0.1, last_retry=1.0)


async def joined(clients, room_name):
    """Each client connected and in the room; their Rooms."""
    for client in clients:
        client.connect()
    async with asyncio.timeout(CONVERGE_SECONDS):
        await asyncio.gather(*(client.wait_for(OPEN) for client in clients))
        return await asyncio.gather(*(client.join(room_name) for client in clients))


async def converse(rooms, provoke, at=PER_WRITER // 3):
    """The writers of ``rooms`` post PER_WRITER messages each, in turns
    PACE_SECONDS apart; ``provoke()`` (awaited) comes before turn ``at``.
    Returns each writer's confirmed ids, once all are confirmed."""
    sends = [[] for _ in rooms]
    for n in range(PER_WRITER):
        if n == at:
            await provoke()
        for w, room in enumerate(rooms):
            text = f"{room.client.user} {n}"
            sends[w].append(asyncio.create_task(room.send(text)))
        await asyncio.sleep(PACE_SECONDS)
    every = [task for tasks in sends for task in tasks]
    _, waiting = await asyncio.wait(every, timeout=CONVERGE_SECONDS)
    if waiting:
        report = unconfirmed(rooms)
        for task in waiting:
            task.cancel()
        raise AssertionError(f"not all confirmed: {report}")
    return [[task.result()["id"] for task in tasks] for tasks in sends]


def unconfirmed(rooms):
    """What each writer still waits for, and where it stands."""
    return [
        (
            room.client.user,
            room.client.state,
            room.joined,
            room.last_id,
            sorted(fields["text"] for fields in room.unsent.values()),
        )
        for room in rooms
    ]


def check_conversation(writers, confirmed, texts_by_member):
    """Each writer's messages confirmed once each; every member holding every
    message once, each writer's in the order written."""
    for ids in confirmed:
        assert len(set(ids)) == PER_WRITER, "a message confirmed under two ids"
    total = PER_WRITER * len(writers)
    for name, texts in texts_by_member.items():
        assert len(texts) == total and len(set(texts)) == total, f"{name}: {texts}"
        for writer in writers:
            own = [text for text in texts if text.startswith(f"{writer} ")]
            assert own == [f"{writer} {n}" for n in range(PER_WRITER)], name
