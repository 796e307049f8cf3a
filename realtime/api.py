"""The HTTP API for other services, at /api/: publish to a group, send to a
user, disconnect a user, post a chat message, and read a room's presence and
history. Django Ninja validates, documents (/api/openapi.json, /api/docs) and
dispatches; every answer that is not a success is ``{"error": code, "detail":
text}`` with a documented status (docs/api.md), never a traceback.

Each endpoint is async and calls realtime/publish.py's async forms, on the
server's event loop.
"""

import logging
import re
from typing import Any

from channels.db import database_sync_to_async as db
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from pydantic import field_validator

from chat import protocol, storage
from chat.presence import presence_for
from chat.protocol import ProtocolError
from server.extensions.close_codes import SIGNED_OUT
from server.extensions.layers import ChannelLayerUnavailable

from . import publish
from .keys import ApiError, ApiKey

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Echo real-time API",
    version="1",
    description="Reach connected users from other services. Authenticate with "
    "`Authorization: Bearer <API key>` (API_KEYS).",
    auth=ApiKey(),
    urls_namespace="api",
)

# What a group name may be: Channels' own rule.
GROUP_NAME = re.compile(r"[A-Za-z0-9._-]{1,99}")
# What a chat error code answers with.
STATUS_OF = {
    protocol.UNKNOWN_ROOM.code: 404,
    protocol.FORBIDDEN.code: 403,
    protocol.TEXT_TOO_LONG.code: 413,
    protocol.UNAVAILABLE.code: 503,
}
ERRORS = frozenset({400, 401, 403, 404, 413, 429, 503})


class Error(Schema):
    error: str = Field(description="a documented error code (docs/api.md)")
    detail: str


class Data(Schema):
    data: Any = Field(
        description="sent as one WebSocket message: a string as text, "
        "anything else as its JSON"
    )


class Disconnect(Schema):
    code: int = Field(SIGNED_OUT.code, description="1000, or 3000 to 4999")
    reason: str = Field(SIGNED_OUT.reason, max_length=120)

    @field_validator("code")
    @classmethod
    def sendable(cls, code):
        if code != 1000 and not 3000 <= code <= 4999:
            raise ValueError("a close code the application may send: 1000, 3000-4999")
        return code


class Post(Schema):
    text: str
    user: str | None = Field(None, description="the author's username; none: system")
    idempotency_key: str | None = Field(
        None, description="a repeated key stores the message once (client_id)"
    )


class LatestReply(Schema):
    id: int
    author: str
    text: str
    ts: str


class ThreadSummary(Schema):
    """A thread root's replies now (docs/chat-protocol.md, Threads)."""

    replies: int
    last_id: int | None
    latest: list[LatestReply]


class FileInfo(Schema):
    """A file a message refers to (docs/chat-protocol.md, Files and images)."""

    id: str
    name: str
    type: str = Field(description="what its bytes are")
    size: int
    width: int | None
    height: int | None
    url: str
    thumbnail: str | None


class Message(Schema):
    """A message as posted: its edits, deletion and reactions come later, as
    events of their own (docs/chat-protocol.md)."""

    type: str
    room: str
    id: int
    author: str
    text: str
    html: str = ""  # the text formatted: sanitised HTML (chat/formatting.py)
    ts: str
    client_id: str | None
    edited: bool = False
    deleted: bool = False
    reactions: dict[str, list[str]] = {}
    reply_to: int | None = None  # a reply's thread root
    thread: ThreadSummary | None = None
    files: list[FileInfo] = []


class Event(Schema):
    """One event of a room's history: a message, or a change (``edit``,
    ``delete``, ``reaction``, ``member``) to the message ``target`` or to
    the room's members."""

    type: str
    room: str
    id: int
    ts: str
    author: str | None = None
    text: str | None = None
    html: str | None = None
    client_id: str | None = None
    edited: bool | None = None
    deleted: bool | None = None
    reactions: dict[str, list[str]] | None = None
    reply_to: int | None = None
    thread: ThreadSummary | None = None
    files: list[FileInfo] | None = None
    target: int | None = None
    by: str | None = None
    emoji: str | None = None
    users: list[str] | None = None
    user: str | None = None
    action: str | None = None
    role: str | None = None


class Accepted(Schema):
    accepted: bool = True


class Presence(Schema):
    room: str
    members: list[str]


class History(Schema):
    room: str
    messages: list[Event]
    last_id: int


@api.post("/groups/{group}/send", response={202: Accepted, ERRORS: Error})
async def send_to_group(request, group: str, body: Data):
    """Send ``data`` to every connection in a channel-layer group."""
    if not GROUP_NAME.fullmatch(group):
        raise ApiError(
            400, "invalid_field", "a group name is 1 to 99 of A-Z a-z 0-9 . _ -"
        )
    await publish.asend_to_group(group, body.data)
    return 202, Accepted()


@api.post("/users/{username}/send", response={202: Accepted, ERRORS: Error})
async def send_to_user(request, username: str, body: Data):
    """Send ``data`` to every open connection of a user, on every worker."""
    await publish.asend_to_user(await known_user(username), body.data)
    return 202, Accepted()


@api.post("/users/{username}/disconnect", response={202: Accepted, ERRORS: Error})
async def disconnect_user(request, username: str, body: Disconnect):
    """Close every open connection of a user (3000 "signed out" by default)."""
    await publish.adisconnect_user(await known_user(username), body.code, body.reason)
    return 202, Accepted()


@api.post(
    "/rooms/{room}/messages", response={200: Message, 201: Message, ERRORS: Error}
)
async def post_message(request, room: str, body: Post):
    """Post a chat message, stored and delivered as a client's; 201 when new,
    200 when the idempotency key was posted before."""
    user = None
    if body.user is not None:
        user = await db(storage.user_named)(body.user)
        if user is None:
            raise ApiError(404, "unknown_user", f"no user named {body.user!r}")
    posted = await publish.apost_message(room, body.text, user, body.idempotency_key)
    return (201 if posted.new else 200), posted.message


@api.get("/rooms/{room}/presence", response={200: Presence, ERRORS: Error})
async def presence(request, room: str):
    """Who is in a room now (usernames, sorted)."""
    found = await existing_room(room)
    members = await presence_for(get_channel_layer()).members(found.group)
    return 200, Presence(room=room, members=members)


@api.get(
    "/rooms/{room}/history", response={200: History, ERRORS: Error}, exclude_none=True
)
async def history(
    request,
    room: str,
    before: int | None = None,
    after: int | None = None,
    limit: int | None = None,
):
    """A page of a room's events (messages, and changes to them and to its
    members), oldest first: before or after an id (one of them), or the
    newest; at most CHAT_HISTORY_PAGE, as the WebSocket's. Each event has
    the fields of its type only."""
    if before is not None and after is not None:
        raise ApiError(400, "invalid_field", "give at most one of before, after")
    found = await existing_room(room)
    page = settings.CHAT_HISTORY_PAGE
    limit = page if limit is None else max(1, min(limit, page))
    if before is not None:
        messages = await db(storage.before)(found, before, limit)
    elif after is not None:
        messages = await db(storage.after)(found, after, limit)
    else:
        messages = await db(storage.latest)(found, limit)
    last_id = await db(storage.last_seq)(found)
    return 200, History(room=room, messages=messages, last_id=last_id)


async def known_user(username):
    try:
        return await publish.user_id(username)
    except LookupError:
        raise ApiError(404, "unknown_user", f"no user named {username!r}") from None


async def existing_room(name):
    found = await db(storage.existing_room)(name)
    if found is None:
        raise ApiError(404, protocol.UNKNOWN_ROOM.code, f"no room named {name!r}")
    return found


def error(request, status, code, detail):
    return api.create_response(
        request, {"error": code, "detail": detail}, status=status
    )


@api.exception_handler(ApiError)
def api_error(request, raised):
    return error(request, raised.status, raised.code, raised.detail)


@api.exception_handler(ValidationError)
def malformed(request, raised):
    where = "; ".join(
        f"{'.'.join(map(str, field_path(problem)))}: {problem.get('msg')}"
        for problem in raised.errors
    )
    return error(request, 400, "malformed", where or "the request is malformed")


def field_path(problem):
    """Where a validation problem is, as the caller wrote it: a body field
    without Ninja's "body" and parameter name in front."""
    where = tuple(problem.get("loc", ()))
    return where[2:] if where[:1] == ("body",) and len(where) > 2 else where


@api.exception_handler(ProtocolError)
def refused(request, raised):
    status = STATUS_OF.get(raised.error.code, 400)
    return error(request, status, raised.error.code, raised.detail)


@api.exception_handler(ChannelLayerUnavailable)
def layer_unavailable(request, raised):
    return error(request, 503, "unavailable", "Redis cannot be reached; try again")


@api.exception_handler(RequestDataTooBig)
def too_big(request, raised):
    return error(request, 413, "too_large", "the body is too large")


@api.exception_handler(HttpError)
def http_error(request, raised):
    return error(request, raised.status_code, "malformed", str(raised))


@api.exception_handler(Exception)
def internal(request, raised):
    logger.exception("API request %s %s failed", request.method, request.path)
    return error(request, 500, "internal", "internal server error")


def not_found(request, path=""):
    """Any other path under /api/: JSON, as every answer of the API is."""
    return error(request, 404, "not_found", f"no endpoint at /api/{path}")
