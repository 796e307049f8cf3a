"""Every authenticated connection, whatever its consumer, can be reached by its
user: it joins its user's group and its session's group, and the base consumer
handles the two events the application sends there.

- ``realtime.send``: one WebSocket message, its ``text`` or ``bytes`` as given
  (on the fast lane: framed once per worker for all of a user's connections);
- ``realtime.disconnect``: close with ``code`` and ``reason`` (by default 3000
  "signed out", which tells a client not to reconnect under the same identity).

Phoenix gives each socket an ``id`` for the same purpose. realtime/publish.py
is what application code calls; this module only names the groups and events.
"""

import hashlib
import json

from .close_codes import SIGNED_OUT
from .presence import for_this_loop
from .signals import send_logged, user_disconnected

SEND = "realtime.send"
DISCONNECT = "realtime.disconnect"


def user_group(user_id):
    return f"user.{user_id}"


def session_group(session_key):
    """The group of one login session. The key is hashed: group names are
    stored in Redis, and a session key is a credential."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def send_event(data):
    """The ``realtime.send`` event for ``data``: a str as text, bytes as
    binary, anything else as its JSON in text."""
    if isinstance(data, bytes):
        return {"type": SEND, "text": None, "bytes": data}
    if not isinstance(data, str):
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return {"type": SEND, "text": data, "bytes": None}


def disconnect_event(code=SIGNED_OUT.code, reason=SIGNED_OUT.reason):
    return {"type": DISCONNECT, "code": code, "reason": reason}


def authenticated_user(scope):
    """The scope's user if authenticated, else None."""
    user = scope.get("user")
    return user if user is not None and user.is_authenticated else None


# Presence of users across workers: who has at least one connection open.
USERS = "users"


def presence():
    """This process's presence of users; a user whose last connection lapsed
    with a killed worker is reported by the sweep."""

    async def announce_left(group, place, user_ids):
        for user_id in user_ids:
            await send_logged(user_disconnected, user_id=int(user_id))

    return for_this_loop("presence", announce_left)
