"""The chat protocol on /ws/chat/: JSON text frames, one object each.

This module owns the wire format: every message type a client may send and its
fields, every type the server sends and its fields, every error code and the
close codes. The consumer handles each client type with one ``@handles``
method, checked against ``CLIENT_MESSAGES`` when its class is created;
docs/chat-protocol.md documents each of them, and
tests/test_chat_protocol_doc.py checks that the two name the same types,
fields and codes.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from server.extensions.close_codes import (  # noqa: F401 - SIGNED_OUT for clients
    GOING_AWAY,
    INTERNAL_ERROR,
    INVALID_UTF8,
    MESSAGE_TOO_BIG,
    NORMAL,
    SIGNED_OUT,
    TOO_SLOW,
    TRY_AGAIN_LATER,
    CloseCode,
)
from server.extensions.close_codes import (
    RATE_LIMITED as RATE_LIMITED_CLOSE,
)

# What a client sends: each type and its fields (besides "type" and
# REQUEST_FIELDS, which every type may carry).
CLIENT_MESSAGES = {
    "join": ("room", "since", "epoch"),
    "direct": ("user", "since", "epoch"),
    "create": ("room", "private"),
    "leave": ("room",),
    "message": ("room", "text", "client_id", "reply_to", "files"),
    "edit": ("room", "id", "text"),
    "delete": ("room", "id"),
    "react": ("room", "id", "emoji"),
    "read": ("room", "id"),
    "history": ("room", "before", "after", "limit"),
    "thread": ("room", "id", "after", "limit"),
    "search": ("query", "cursor", "limit"),
    "typing": ("room",),
    "rooms": (),
    "notifications": ("email",),
    "members": ("room",),
    "invite": ("room", "user"),
    "remove": ("room", "user"),
    "ban": ("room", "user"),
    "unban": ("room", "user"),
    "mute": ("room", "user"),
    "unmute": ("room", "user"),
    "role": ("room", "user", "role"),
    "depart": ("room",),
}
# Any request may carry a client_id: its answer names it as ``ref`` (its reply,
# an ack, or an error), so that a client can await each request. A message's
# client_id is also what makes a resend store nothing twice.
REQUEST_FIELDS = ("client_id",)
# The replies that go to the requester alone, carrying the request's ``ref``;
# any other request it names is answered with ``ack``.
REPLIES = (
    "joined",
    "left",
    "history",
    "thread",
    "search",
    "members",
    "rooms",
    "notifications",
)
# The moderators' actions on a user, each answered with a member event.
MEMBER_ACTIONS = ("invite", "remove", "ban", "unban", "mute", "unmute", "role")
CLIENT_TYPES = tuple(CLIENT_MESSAGES)
# What the server sends, and its fields.
SERVER_MESSAGES = {
    "joined": (
        "room",
        "members",
        "messages",
        "last_id",
        "epoch",
        "reset",
        "private",
        "role",
        "muted",
        "read",
        "seen",
        "ref",
    ),
    "left": ("room", "ref"),
    "message": (
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
    ),
    "edit": ("room", "id", "ts", "target", "author", "text", "html"),
    "delete": ("room", "id", "ts", "target", "by"),
    "reaction": ("room", "id", "ts", "target", "by", "emoji", "users"),
    "member": ("room", "id", "ts", "by", "user", "action", "role"),
    "read": ("room", "user", "id", "unread", "mentions"),
    "members": ("room", "members", "ref"),
    "invited": ("room", "by"),
    "removed": ("room", "by", "reason"),
    "history": ("room", "messages", "last_id", "ref"),
    "thread": ("room", "id", "root", "replies", "more", "unread", "mentions", "ref"),
    "search": ("query", "results", "next", "ref"),
    "typing": ("room", "user"),
    "presence": ("room", "joined", "left"),
    "rooms": ("rooms", "direct", "start", "ref"),
    "notifications": ("email", "ref"),
    "ack": ("ref", "id"),
    "error": ("code", "detail", "ref"),
    "degraded": ("detail",),
    "restored": ("detail",),
    "notice": ("text",),
}
SERVER_TYPES = tuple(SERVER_MESSAGES)

# Room names: lower-case, as in a URL; "dm." is kept for direct messages.
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DIRECT_ROOM_PREFIX = "dm."
# Anonymous names: letters, digits, "_", "-" and "."; no spaces or controls.
USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,30}")
# The author of messages the application posts as nobody in particular
# (realtime/publish.py); no guest may take it.
SYSTEM_AUTHOR = "system"
RESERVED_NAMES = {SYSTEM_AUTHOR}
CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")
# A mention: "@" and a user name, not inside a word or an address.
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9_.-]{1,30})(?<!\.)")
# A reaction: up to 8 characters (an emoji with its modifiers), no spaces.
EMOJI = re.compile(r"[^\s\x00-\x7f]{1,8}")


@dataclass(frozen=True)
class Error:
    code: str
    detail: str


BAD_JSON = Error("bad_json", "a message must be one JSON object")
BINARY_FRAME = Error("binary_frame", "the chat protocol is JSON in text messages")
UNKNOWN_TYPE = Error("unknown_type", "unknown message type")
INVALID_FIELD = Error("invalid_field", "a field is missing or invalid")
TEXT_TOO_LONG = Error("text_too_long", "the text is longer than allowed")
UNKNOWN_ROOM = Error("unknown_room", "no such room")
FORBIDDEN = Error("forbidden", "this room is not yours to join or read")
NOT_JOINED = Error("not_joined", "join the room first")
LOGIN_REQUIRED = Error("login_required", "log in to do that")
UNKNOWN_USER = Error("unknown_user", "no such registered user")
INVALID_NAME = Error("invalid_name", "choose a valid name that is not registered")
UNAVAILABLE = Error("unavailable", "the message could not be stored; send it again")
RATE_LIMITED = Error("rate_limited", "too many messages: this one was refused")
ROOM_EXISTS = Error("room_exists", "a room of that name exists")
MUTED = Error("muted", "you are muted in this room: you may read, not post")
BANNED = Error("banned", "you are banned from this room")
UNKNOWN_MESSAGE = Error("unknown_message", "no such message, or it was deleted")
INVALID_EMOJI = Error("invalid_emoji", "a reaction is one emoji, up to 8 characters")
UNKNOWN_FILE = Error(
    "unknown_file", "no such upload of yours in this room, or it was sent already"
)

ERRORS = (
    BAD_JSON,
    BINARY_FRAME,
    UNKNOWN_TYPE,
    INVALID_FIELD,
    TEXT_TOO_LONG,
    UNKNOWN_ROOM,
    FORBIDDEN,
    NOT_JOINED,
    LOGIN_REQUIRED,
    UNKNOWN_USER,
    INVALID_NAME,
    UNAVAILABLE,
    RATE_LIMITED,
    ROOM_EXISTS,
    MUTED,
    BANNED,
    UNKNOWN_MESSAGE,
    INVALID_EMOJI,
    UNKNOWN_FILE,
)


# Sent when a connection has no name it may chat under; the server's shared
# codes (1001, 1009, 1013, 3000, 3008, ...) are in server/extensions/close_codes.py.
CLOSE_INVALID_NAME = CloseCode(4001, "choose a valid name, or log in", retry=False)
CLOSE_CODES = (
    NORMAL,
    GOING_AWAY,
    INVALID_UTF8,
    RATE_LIMITED_CLOSE,
    MESSAGE_TOO_BIG,
    SIGNED_OUT,
    INTERNAL_ERROR,
    TRY_AGAIN_LATER,
    TOO_SLOW,
    CLOSE_INVALID_NAME,
)


# Sent to every connection when Redis becomes unreachable, and when it returns.
DEGRADED = {
    "type": "degraded",
    "detail": "live delivery to members on other workers is interrupted; "
    "messages are still stored: ask history after the last id when restored",
}
RESTORED = {"type": "restored", "detail": "live delivery to every member is back"}


class ProtocolError(Exception):
    """A client message the server answers with an error and otherwise ignores."""

    def __init__(self, error, detail=None):
        super().__init__(error.code)
        self.error = error
        self.detail = detail or error.detail


def parse(text, types=CLIENT_TYPES):
    """One client message: a dict whose ``type`` is one of ``types``."""
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError(BAD_JSON) from None
    if not isinstance(message, dict):
        raise ProtocolError(BAD_JSON)
    if message.get("type") not in types:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown type {message.get('type')!r}")
    return message


def request_id(message):
    """The request's ``client_id`` if it has one; invalid_field if it is not
    1 to 64 printable ASCII characters."""
    client_id = message.get("client_id")
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise ProtocolError(INVALID_FIELD, "client_id is invalid")
    return client_id


def answer(reply, ref):
    """What the requester receives for a request: ``reply`` (one of REPLIES)
    naming the request, or, for a request answered by what it did, an ack
    with the id of the event it stored (None when it stored none)."""
    if isinstance(reply, dict):
        return reply if ref is None else {**reply, "ref": ref}
    return {"type": "ack", "ref": ref, "id": reply}


def field(message, name, kind, required=True):
    """``message[name]`` if it is a ``kind``; None if absent and not required."""
    value = message.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(INVALID_FIELD, f"{name} must be a {kind.__name__}")
    return value


def name_from_query(query_string):
    """The valid ``name`` in a query string, or None."""
    names = parse_qs(query_string.decode("latin1")).get("name", [])
    if len(names) == 1 and USER_NAME.fullmatch(names[0]):
        return names[0]
    return None


def room_name(message):
    name = field(message, "room", str)
    if not ROOM_NAME.fullmatch(name) and not is_direct(name):
        raise ProtocolError(UNKNOWN_ROOM, f"{name[:70]!r} is not a room name")
    return name


def is_direct(name):
    return name.startswith(DIRECT_ROOM_PREFIX)


def direct_room(first, second):
    """The private room of two users, the same whichever asks."""
    return DIRECT_ROOM_PREFIX + ".".join(sorted((first, second)))


def mentioned(text, author):
    """The names ``text`` mentions with ``@name``, its author's left out."""
    if "@" not in text:
        return []
    return sorted(set(MENTION.findall(text)) - {author})


def error(problem, ref=None):
    """The error reply; ``ref`` is the client_id of the message it answers."""
    reply = {"type": "error", "code": problem.error.code, "detail": problem.detail}
    if isinstance(ref, str):
        reply["ref"] = ref
    return reply


def encode(message):
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def client_id_of(text):
    """The ``client_id`` of a message not otherwise read, if it has one."""
    try:
        message = json.loads(text) if text else None
    except ValueError:
        return None
    client_id = message.get("client_id") if isinstance(message, dict) else None
    return client_id if isinstance(client_id, str) else None
