"""Helpers for talking to a real server with the websockets client."""

import asyncio
import contextlib
import urllib.request

import websockets

RECEIVE_SECONDS = 10


def ws_url(server, path="/ws/echo/"):
    return f"ws://127.0.0.1:{server.port}{path}"


def connect(server, path="/ws/echo/", **options):
    options.setdefault("max_size", None)
    # A client that is not reading keeps taking in what arrives, so that its
    # close handshake is not stuck behind unread messages for close_timeout.
    # Tests of a client that stops reading pass max_queue themselves.
    options.setdefault("max_queue", None)
    return websockets.connect(ws_url(server, path), **options)


async def receive(websocket, seconds=RECEIVE_SECONDS):
    return await asyncio.wait_for(websocket.recv(), seconds)


async def close_of(websocket):
    """(code, reason) of the server's close, read past whatever came first."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await receive(websocket)
    return websocket.close_code, websocket.close_reason


async def expect_nothing(websocket, seconds=0.5):
    """Fail if a message arrives within ``seconds``."""
    try:
        message = await asyncio.wait_for(websocket.recv(), seconds)
    except TimeoutError:
        return
    raise AssertionError(f"expected silence, received {message!r}")


def http_get(server, path="/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, response.headers, response.read()


async def wait_until(condition, seconds=5, interval=0.05):
    """Poll ``condition`` (state another process owns, which no event reports)
    until it holds; fail after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
