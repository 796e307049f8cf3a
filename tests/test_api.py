"""The HTTP API for other services, against two real workers on Redis: each
call reaches the members it is for on the other worker, every bad request gets
its documented JSON error, and the schema lists exactly the endpoints."""

import asyncio
import json
import urllib.error
import urllib.request
import uuid

import pytest

from tests.browser_session import manage
from tests.chat_client import chat, registered_user, registered_users
from tests.client import close_of, connect, receive

pytestmark = pytest.mark.server

KEY = "test-api-key-1"
ENDPOINTS = {
    ("post", "/api/groups/{group}/send"),
    ("post", "/api/users/{username}/send"),
    ("post", "/api/users/{username}/disconnect"),
    ("post", "/api/rooms/{room}/messages"),
    ("get", "/api/rooms/{room}/presence"),
    ("get", "/api/rooms/{room}/history"),
}


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    settings = {"REDIS_URL": redis_url, "API_KEYS": f"old-key,{KEY}"}
    return [start_module_daphne(**settings) for _ in range(2)]


@pytest.fixture(scope="module")
def limited(start_module_daphne, redis_url):
    """A worker with a small rate and body limit, to reach them."""
    return start_module_daphne(
        REDIS_URL=redis_url,
        API_KEYS=KEY,
        API_RATE_PER_SECOND="0.1",
        API_RATE_BURST="3",
        API_MAX_BODY_BYTES="2048",
    )


def call(server, method, path, body=None, key=KEY, raw=None):
    """(status, JSON answer) of one API request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=data.encode() if isinstance(data, str) else data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def api(server, method, path, body=None, **options):
    return await asyncio.to_thread(call, server, method, path, body, **options)


def unique_room():
    return f"api-{uuid.uuid4().hex[:8]}"


async def test_a_publish_reaches_group_members_on_the_other_worker(workers):
    group = f"g{uuid.uuid4().hex[:8]}"
    async with connect(workers[1], f"/ws/echo/{group}/") as member:
        status, answer = await api(
            workers[0], "POST", f"/api/groups/{group}/send", {"data": {"hi": 1}}
        )
        assert (status, answer) == (202, {"accepted": True})
        assert json.loads(await receive(member)) == {"hi": 1}


async def test_a_post_is_stored_numbered_and_delivered_like_a_clients(workers):
    room = unique_room()
    async with chat(workers[1], name=f"m{uuid.uuid4().hex[:6]}") as member:
        await member.join(room)
        await member.say(room, "first")
        await member.next("message", room=room)
        body = {"text": "deploy done", "idempotency_key": "deploy-1"}
        status, posted = await api(
            workers[0], "POST", f"/api/rooms/{room}/messages", body
        )
        assert status == 201
        assert (posted["id"], posted["author"]) == (2, "system")
        delivered = await member.next("message", room=room)
        assert delivered == posted
        again = await api(workers[0], "POST", f"/api/rooms/{room}/messages", body)
        assert again == (200, posted)
        await member.expect_silence("message", room=room)
        status, page = await api(workers[1], "GET", f"/api/rooms/{room}/history")
        assert status == 200 and [m["id"] for m in page["messages"]] == [1, 2]
        assert page["last_id"] == 2


async def test_posting_as_a_user_and_reading_presence(workers, server_database_url):
    name = f"poster{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    room = unique_room()
    async with chat(workers[1], session=session) as member:
        await member.join(room)
        status, presence = await api(workers[0], "GET", f"/api/rooms/{room}/presence")
        assert (status, presence) == (200, {"room": room, "members": [name]})
        body = {"text": "from my phone", "user": name}
        status, posted = await api(
            workers[0], "POST", f"/api/rooms/{room}/messages", body
        )
        assert status == 201 and posted["author"] == name
        assert (await member.next("message", room=room))["text"] == "from my phone"


async def test_send_and_disconnect_reach_every_connection_of_a_user(
    workers, server_database_url
):
    name = f"target{uuid.uuid4().hex[:6]}"
    session = await asyncio.to_thread(registered_user, server_database_url, name)
    cookie = {"Cookie": f"sessionid={session}"}
    async with (
        chat(workers[0], session=session) as in_chat,
        connect(workers[1], additional_headers=cookie) as in_echo,
    ):
        await in_chat.ready()
        await in_echo.send("ready")
        assert await receive(in_echo) == "ready"
        notice = {"type": "notice", "text": "your export is ready"}
        status, _ = await api(
            workers[1], "POST", f"/api/users/{name}/send", {"data": notice}
        )
        assert status == 202
        assert await in_chat.next("notice") == notice
        assert json.loads(await receive(in_echo)) == notice
        status, _ = await api(
            workers[0],
            "POST",
            f"/api/users/{name}/disconnect",
            {"code": 4003, "reason": "account locked"},
        )
        assert status == 202
        assert await close_of(in_chat.websocket) == (4003, "account locked")
        assert await close_of(in_echo) == (4003, "account locked")


async def test_a_private_room_refuses_a_post_as_a_non_member(
    workers, server_database_url
):
    names = [f"p{uuid.uuid4().hex[:6]}" for _ in range(3)]
    made = await asyncio.to_thread(registered_users, server_database_url, names)
    sessions = [made[name] for name in names]
    async with chat(workers[0], session=sessions[0]) as first:
        await first.send("direct", user=names[1])
        room = (await first.next("joined"))["room"]
    body = {"text": "let me in", "user": names[2]}
    status, answer = await api(workers[0], "POST", f"/api/rooms/{room}/messages", body)
    assert (status, answer["error"]) == (403, "forbidden")
    status, _ = await api(
        workers[0], "POST", f"/api/rooms/{room}/messages", {"text": "system may"}
    )
    assert status == 201


@pytest.mark.parametrize(
    "method, path, body, options, status, code",
    [
        ("POST", "/api/groups/g/send", {"data": 1}, {"key": None}, 401, "unauthorized"),
        (
            "POST",
            "/api/groups/g/send",
            {"data": 1},
            {"key": "wrong"},
            401,
            "unauthorized",
        ),
        ("POST", "/api/groups/g/send", None, {"raw": "{not json"}, 400, "malformed"),
        ("POST", "/api/groups/g/send", {"no_data": 1}, {}, 400, "malformed"),
        ("POST", "/api/groups/a%20b/send", {"data": 1}, {}, 400, "invalid_field"),
        ("POST", "/api/users/nobody-at-all/send", {"data": 1}, {}, 404, "unknown_user"),
        (
            "POST",
            "/api/users/nobody-at-all/disconnect",
            {"code": 1006},
            {},
            400,
            "malformed",
        ),
        ("GET", "/api/rooms/no-such-room/history", None, {}, 404, "unknown_room"),
        ("GET", "/api/rooms/no-such-room/presence", None, {}, 404, "unknown_room"),
        (
            "POST",
            "/api/rooms/no-such-room/messages",
            {"text": "x"},
            {},
            404,
            "unknown_room",
        ),
        ("GET", "/api/no/such/endpoint", None, {}, 404, "not_found"),
        (
            "GET",
            "/api/rooms/r/history?before=1&after=2",
            None,
            {},
            400,
            "invalid_field",
        ),
    ],
)
async def test_bad_requests_get_their_documented_json_error(
    workers, method, path, body, options, status, code
):
    answer = await api(workers[0], method, path, body, **options)
    assert answer[0] == status and answer[1]["error"] == code
    assert answer[1]["detail"]


async def test_text_over_the_chat_limit_and_empty_text_are_refused(workers):
    room = unique_room()
    async with chat(workers[0], name=f"m{uuid.uuid4().hex[:6]}") as member:
        await member.join(room)
    long = {"text": "x" * 4001}
    status, answer = await api(workers[0], "POST", f"/api/rooms/{room}/messages", long)
    assert (status, answer["error"]) == (413, "text_too_long")
    status, answer = await api(
        workers[0], "POST", f"/api/rooms/{room}/messages", {"text": "  "}
    )
    assert (status, answer["error"]) == (400, "invalid_field")


async def test_a_body_over_the_limit_gets_413_and_a_key_over_its_rate_429(limited):
    status, answer = await api(
        limited, "POST", "/api/groups/g/send", {"data": "x" * 4096}
    )
    assert (status, answer["error"]) == (413, "too_large")
    statuses = [
        (await api(limited, "POST", "/api/groups/g/send", {"data": 1}))[0]
        for _ in range(4)
    ]
    assert statuses[-1] == 429 and 202 in statuses
    status, _ = await api(limited, "GET", "/api/rooms/x/history", key="other")
    assert status == 401


def test_the_schema_lists_exactly_the_endpoints_with_their_errors(workers):
    with urllib.request.urlopen(
        f"http://127.0.0.1:{workers[0].port}/api/openapi.json", timeout=10
    ) as response:
        schema = json.loads(response.read())
    listed = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert listed == ENDPOINTS
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert {"400", "401", "404", "429"} <= set(operation["responses"]), path
    with urllib.request.urlopen(
        f"http://127.0.0.1:{workers[0].port}/api/docs", timeout=10
    ) as response:
        assert b"swagger-ui" in response.read()


async def test_the_management_command_posts_like_the_api(
    workers, server_database_url, redis_url
):
    room = unique_room()
    async with chat(workers[1], name=f"m{uuid.uuid4().hex[:6]}") as member:
        await member.join(room)
        code = (
            "from django.core.management import call_command\n"
            f"call_command('post_message', {room!r}, 'maintenance at 6', "
            "idempotency_key='m-6')\n"
            f"call_command('post_message', {room!r}, 'maintenance at 6', "
            "idempotency_key='m-6')\n"
        )
        output = await asyncio.to_thread(
            manage, server_database_url, code, REDIS_URL=redis_url
        )
        assert output.splitlines()[-2:] == [
            f"posted: {room} #1",
            f"already posted: {room} #1",
        ]
        message = await member.next("message", room=room)
        assert (message["author"], message["text"]) == ("system", "maintenance at 6")


def test_the_workers_logged_no_traceback_after_all_that(workers):
    for worker in workers:
        assert "Traceback" not in worker.log
