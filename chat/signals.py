"""Django signals the chat sends; a receiver that raises is logged and the
chat goes on (server/extensions/signals.py's ``send_logged``).

- ``message_stored(room, message)``: a message was stored, from a client, from
  realtime/publish.py's ``post_message`` or from the HTTP API; ``message`` is
  its wire form (chat-protocol.md), ``room`` the room's name. A resend that
  was not stored again sends nothing.
- ``member_joined(room, user)`` and ``member_left(room, user)``: a user's
  first connection joined the room, or their last left it (or lapsed with a
  killed worker); ``user`` is the name they chat under.
"""

from django.dispatch import Signal

message_stored = Signal()
member_joined = Signal()
member_left = Signal()
