"""A queue with one reader: what daphne hands each application instance
(``speed/daphne_queue.py``) and what each channel of the channel layer holds
(``server.extensions.layers.local``).

An asyncio.Queue holds four deques (items, waiting getters, waiting putters
and the Event behind ``join``), 3 KB of every idle connection (tracemalloc);
this holds one waiting reader and, only while messages wait, one deque (an
empty deque is 760 bytes, a tenth of an idle connection's Python objects). A
second reader at once is a bug, and raises rather than hangs.
"""

import asyncio
from collections import deque

# What _messages is while nothing waits: empty, and shared by every queue.
NOTHING_WAITING = ()


class SingleReaderQueue:
    __slots__ = ("_messages", "_reader")

    def __init__(self):
        self._messages = NOTHING_WAITING
        self._reader = None

    def put_nowait(self, message):
        if self._messages is NOTHING_WAITING:
            self._messages = deque()
        self._messages.append(message)
        self._wake()

    async def get(self):
        while not self._messages:
            self._check()
            if self._reader is not None:
                raise RuntimeError("a SingleReaderQueue has one reader; another waits")
            # Cancelling this wait loses nothing: messages stay in the deque.
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        message = self._messages.popleft()
        if not self._messages:
            self._messages = NOTHING_WAITING
        return message

    def drop_waiting(self):
        self._messages = NOTHING_WAITING

    def _check(self):
        """Raise instead of waiting, if there is a reason to (subclasses)."""

    def _wake(self):
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)
