"""A thread with an event loop of its own, for the layer's sends from event
loops that do not receive.

Application code outside the server (a management command, a Celery task, a
script) sends through ``async_to_sync``, which runs each call on a new event
loop and closes it after. Redis connections belong to the loop that opened
them, so a connection per call would be opened and abandoned every time
(channels-redis's core layer manages 128 publishes a second that way here).
Instead each such send is handed to this thread's loop, whose connections last;
the caller's loop only waits for the result.

Rule: only this thread touches what runs on its loop. A process that forks
(Celery's prefork pool) gets a thread of its own on first use.
"""

import asyncio
import atexit
import os
import threading

from server.extensions import redis_connections

# How long closing waits for the thread's connections to close.
CLOSE_SECONDS = 2


class Publisher:
    def __init__(self, name):
        self.name = name
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._pid = None

    def owns(self, loop):
        return loop is self._loop

    def call(self, coroutine):
        """Run ``coroutine`` on the publisher's loop and wait for its result,
        from sync code: a thread with no event loop running."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
            return future.result()
        coroutine.close()
        raise RuntimeError("sync code only: from async code, await the async form")

    async def run(self, coroutine):
        """Run ``coroutine`` on the publisher's loop; cancelling the caller
        cancels it there."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        return await asyncio.wrap_future(future)

    def _running_loop(self):
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=self.name, daemon=True
                )
                self._thread.start()
                atexit.register(self.close)
            return self._loop

    def close(self):
        """Close the thread's Redis connections, then stop it. Safe to call
        more than once, and from any thread but the publisher's own."""
        with self._lock:
            loop, thread, self._loop = self._loop, self._thread, None
        if loop is None or self._pid != os.getpid():
            return
        closing = asyncio.run_coroutine_threadsafe(
            redis_connections.close_clients(), loop
        )
        try:
            closing.result(CLOSE_SECONDS)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CLOSE_SECONDS)
            loop.close()
