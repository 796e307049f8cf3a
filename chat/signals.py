"""Django signals the chat sends; a receiver that raises is logged and the
chat goes on (server/extensions/signals.py's ``send_logged``).

- ``message_stored(room, message)``: a message was stored, from a client, from
  realtime/publish.py's ``post_message`` or from the HTTP API; ``message`` is
  its wire form (chat-protocol.md), ``room`` the room's name. A resend that
  was not stored again sends nothing.
- ``member_joined(room, user)`` and ``member_left(room, user)``: a user's
  first connection joined the room, or their last left it (or lapsed with a
  killed worker); ``user`` is the name they chat under.
- ``missed_messages(user_id, messages, email)``: the notifier (chat/notifier.py)
  found mentions or direct messages that ``user_id`` missed while away and has
  not read, CHAT_NOTIFY_DELAY after the first; ``messages`` lists them (room,
  id, reason "mention" or "direct", author, text, ts, url), and ``email`` says
  whether an email goes too (the user may have turned it off, or have no
  address). Sent once per batch, in the notifier's process, once its email
  went (a batch the SMTP server refused is heard of when it is sent again)
  or straight away if none is to go: a receiver can add web push or another
  channel.
"""

from django.dispatch import Signal

message_stored = Signal()
member_joined = Signal()
member_left = Signal()
missed_messages = Signal()
