"""An ASGI application for the tests that answers nothing: it neither accepts
nor refuses a handshake, and ignores the disconnect, on the project's patched
daphne. ``/ws/record/`` first tells a log file when it was cancelled."""

import asyncio
import os

import project.asgi  # noqa: F401 - installs server.transport


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        if scope["path"] == "/ws/record/":
            record("cancelled")
        raise


def record(line):
    with open(os.environ["UNRESPONSIVE_LOG"], "a") as log:
        log.write(line + "\n")
