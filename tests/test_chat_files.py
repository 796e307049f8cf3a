"""Files and images in chat messages, against two real daphne workers sharing
Redis, the database and the file storage: uploaded over HTTP by the shipped
Python client, typed from their bytes, cleaned of metadata, served only to
the room's readers, deleted with their message."""

import asyncio
import io
import urllib.error
import urllib.request

import pytest
from PIL import Image

from clients.chat import ChatError, upload
from tests.chat_client import chat, registered_users, unique

pytestmark = pytest.mark.server

MAX_BYTES = 300_000


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url, media):
    settings = {
        "REDIS_URL": redis_url,
        "CHAT_RATE_BURST": "1000",
        "MEDIA_ROOT": str(media),
        "CHAT_UPLOAD_MAX_BYTES": str(MAX_BYTES),
        "CHAT_THUMBNAIL_SIZE": "64",
    }
    return [start_module_daphne(**settings) for _ in range(2)]


@pytest.fixture(scope="module")
def people(server_database_url):
    names = {role: unique(role) for role in ("ann", "ben", "cat")}
    made = registered_users(server_database_url, names.values())
    return {role: (name, made[name]) for role, name in names.items()}


def base(server):
    return f"http://127.0.0.1:{server.port}"


def png(width=200, height=100, **info):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG", **info)
    return out.getvalue()


def photo_with_location():
    """A JPEG as a phone writes one: EXIF with a GPS position, turned on its side."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show upright
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (52.0, 22.0, 7.5)  # GPSLatitude
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def fetch(server, path, session=None):
    """(status, headers, body) of a GET, as a signed-in user or a guest."""
    return await asyncio.to_thread(fetch_now, server, path, session)


def fetch_now(server, path, session):
    request = urllib.request.Request(base(server) + path)
    if session:
        request.add_header("Cookie", f"sessionid={session}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers, refused.read()


async def private_room(ann, ben_name):
    room = unique("files-")
    await ann.send("create", room=room, private=True)
    await ann.next("joined", room=room)
    await ann.send("invite", room=room, user=ben_name)
    await ann.next("member", action="invited")
    return room


async def test_an_image_reaches_the_rooms_members_and_no_one_else(workers, people):
    ann_session, (ben_name, ben_session) = people["ann"][1], people["ben"]
    async with chat(workers[0], session=ann_session) as ann:
        room = await private_room(ann, ben_name)
        sent = await upload(base(workers[0]), ann_session, room, "chart.png", png())
        assert (sent["type"], sent["width"], sent["height"]) == ("image/png", 200, 100)
        async with chat(workers[1], session=ben_session) as ben:
            await ben.join(room)
            await ann.send("message", room=room, text="", files=[sent["id"]])
            message = await ben.next("message", room=room)
    assert message["files"] == [sent]

    status, headers, body = await fetch(workers[1], sent["url"], ben_session)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body)).size == (200, 100)
    assert "sandbox" in headers["Content-Security-Policy"]
    status, headers, body = await fetch(workers[0], sent["thumbnail"], ben_session)
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(body)).size == (64, 32)

    for path in (sent["url"], sent["thumbnail"]):
        assert (await fetch(workers[1], path, people["cat"][1]))[0] == 403, (
            "not a member"
        )
        assert (await fetch(workers[1], path))[0] == 403, "a guest"


async def test_a_photo_is_stored_upright_without_its_metadata(workers, people):
    name, session = people["ann"]
    room = unique("photos-")
    async with chat(workers[0], session=session) as ann:
        await ann.join(room)
        sent = await upload(
            base(workers[0]), session, room, "IMG_1.jpg", photo_with_location()
        )
    assert (sent["width"], sent["height"]) == (80, 120), "turned as its EXIF said"
    status, _, body = await fetch(workers[1], sent["url"], session)
    stored = Image.open(io.BytesIO(body))
    assert status == 200 and stored.size == (80, 120)
    assert not stored.getexif(), "no EXIF, so no GPS position and no camera"
    assert b"PhoneMaker" not in body and b"Exif" not in body


async def test_a_files_type_comes_from_its_bytes_not_its_name(workers, people):
    name, session = people["ann"]
    room = unique("types-")
    async with chat(workers[0], session=session) as ann:
        await ann.join(room)
    url = base(workers[0])
    page = b"<!doctype html><script>alert(1)</script>"
    with pytest.raises(ChatError) as refused:
        await upload(url, session, room, "cute.png", page + b"\x00\x01")
    assert refused.value.code == "type_not_allowed"
    text = await upload(url, session, room, "page.html", page)
    assert text["type"] == "text/plain" and text["thumbnail"] is None
    status, headers, body = await fetch(workers[1], text["url"], session)
    assert headers["Content-Type"] == "text/plain; charset=utf-8" and body == page
    assert headers["Content-Disposition"].startswith("attachment")
    disguised = await upload(url, session, room, "notes.txt", png())
    assert disguised["type"] == "image/png"
    with pytest.raises(ChatError) as broken:
        await upload(url, session, room, "half.png", png()[:60])
    assert broken.value.code == "invalid_image"


async def test_uploads_are_refused_clearly(workers, people):
    ann_session, cat_session = people["ann"][1], people["cat"][1]
    url = base(workers[0])
    async with chat(workers[0], session=ann_session) as ann:
        room = await private_room(ann, people["ben"][0])
    cases = [
        (ann_session, room, b"x" * (MAX_BYTES + 1), "file_too_large"),
        (cat_session, room, png(), "forbidden"),
        (ann_session, unique("nowhere-"), png(), "unknown_room"),
        ("not-a-session", room, png(), "login_required"),
    ]
    for session, where, data, code in cases:
        with pytest.raises(ChatError) as refused:
            await upload(url, session, where, "f.png", data)
        assert refused.value.code == code

    request = urllib.request.Request(url + "/chat/files", data=b"", method="POST")
    request.add_header("Cookie", f"sessionid={ann_session}")
    with pytest.raises(urllib.error.HTTPError) as no_token:
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    assert no_token.value.code == 403 and b'"csrf_failed"' in no_token.value.read()


async def test_a_message_names_only_its_authors_unsent_uploads(workers, people):
    ann_session, ben_session = people["ann"][1], people["ben"][1]
    room = unique("claims-")
    url = base(workers[0])
    async with (
        chat(workers[0], session=ann_session) as ann,
        chat(workers[1], session=ben_session) as ben,
    ):
        await ann.join(room)
        await ben.join(room)
        anns = await upload(url, ann_session, room, "a.png", png())
        assert (await fetch(workers[1], anns["url"], ben_session))[0] == 404, (
            "not sent yet"
        )
        assert (await fetch(workers[1], anns["url"], ann_session))[0] == 200
        await ben.send(
            "message", room=room, text="mine now", files=[anns["id"]], client_id="b1"
        )
        assert (await ben.next("error", ref="b1"))["code"] == "unknown_file"
        await ann.send("message", room=room, text="chart", files=[anns["id"]])
        await ben.next("message", room=room, text="chart")
        await ann.send(
            "message", room=room, text="again", files=[anns["id"]], client_id="a2"
        )
        assert (await ann.next("error", ref="a2"))["code"] == "unknown_file"
        await ann.send("message", room=room, text="", client_id="a3")
        assert (await ann.next("error", ref="a3"))["code"] == "invalid_field"


async def test_deleting_the_message_deletes_its_files(workers, people, media):
    name, session = people["ann"]
    room = unique("gone-")
    async with chat(workers[0], session=session) as ann:
        await ann.join(room)
        sent = await upload(base(workers[0]), session, room, "secret.png", png())
        await ann.send("message", room=room, text="oops", files=[sent["id"]])
        message = await ann.next("message", room=room, text="oops")
        kept = [p for p in media.rglob("*") if sent["id"] in str(p) and p.is_file()]
        assert len(kept) == 2, "the image and its thumbnail"
        await ann.send("delete", room=room, id=message["id"])
        await ann.next("delete", room=room, target=message["id"])
        history = await ann.join(room)
    assert all(not p.exists() for p in kept)
    assert (await fetch(workers[1], sent["url"], session))[0] == 404
    tombstone = next(m for m in history["messages"] if m["id"] == message["id"])
    assert tombstone["deleted"] and tombstone["files"] == []


async def test_a_message_with_files_sent_again_is_answered_as_stored(workers, people):
    """A resend after a dropped connection names the same uploads, which the
    stored message holds now: it is answered with that message, once."""
    name, session = people["ann"]
    room = unique("resend-")
    async with chat(workers[0], session=session) as ann:
        await ann.join(room)
        sent = await upload(base(workers[0]), session, room, "a.png", png())
        fields = {"room": room, "text": "once", "files": [sent["id"]]}
        await ann.send("message", client_id="r1", **fields)
        stored = await ann.next("message", room=room, text="once")
    async with chat(workers[1], session=session) as ann:
        await ann.join(room, since=stored["id"])
        await ann.send("message", client_id="r1", **fields)
        again = await ann.next("message", room=room, text="once")
        await ann.expect_silence("error")
    assert again == stored
