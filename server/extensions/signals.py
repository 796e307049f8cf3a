"""Django signals the base consumer sends, and the one rule for sending any of
ours from async code: a receiver that raises is logged, and delivery goes on.

- ``user_connected(user_id)``: the user's first connection opened, on any
  worker (with Redis, across all of them).
- ``user_disconnected(user_id)``: their last one closed, or lapsed with a
  killed worker (within 4/3 of CHANNEL_MEMBERSHIP_TTL).

chat/signals.py has the chat's own; realtime/signals.py lists them all.
"""

import logging

from channels.db import database_sync_to_async
from django.dispatch import Signal

logger = logging.getLogger(__name__)

user_connected = Signal()
user_disconnected = Signal()


async def send_logged(signal, **kwargs):
    """Send ``signal`` to its receivers in a worker thread (they may use the
    database), if it has any; log each receiver that raised."""
    if signal.has_listeners():
        await database_sync_to_async(send_logged_sync)(signal, **kwargs)


def send_logged_sync(signal, **kwargs):
    """``send_logged`` for code that is not async (a management command)."""
    for receiver, answer in signal.send_robust(sender=None, **kwargs):
        if isinstance(answer, Exception):
            logger.error(
                "signal receiver %s raised",
                getattr(receiver, "__qualname__", receiver),
                exc_info=(type(answer), answer, answer.__traceback__),
            )
