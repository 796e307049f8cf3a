"""WebSocket applications over plain HTTP, for networks that block WebSocket:
server-sent events down, POST up.

``GET /sse/chat/`` opens an event stream, and the WebSocket application runs
behind it as for a handshake on ``/ws/chat/``: the same stack (Host, Origin,
session, routing), the same consumer with its limits, errors and close codes.
The stream's first event, ``session``, names the stream and carries a token;
each message the consumer sends is one ``data:`` event, and its close is an
event ``close`` with the code and reason, after which the response ends.

``POST /sse/send`` with that session and token delivers client messages (the
protocol's text frames, unchanged) through the channel layer to the worker
that holds the stream, in order, so a POST may land on any worker and no
sticky sessions are needed. The token is an HMAC of the stream's name and the
session cookie it was opened with, so only the page that opened the stream,
with the same cookie, can post to it; a browser's POST must also come from an
allowed Origin, as a WebSocket handshake must. docs/protocols.md has the
answers and their statuses.

One stream's tasks: the application; the relay from the channel layer (what
POSTs delivered) into the application's receive queue; the watcher of the
HTTP connection, whose end is the application's disconnect; and the
keep-alive comment that proxies and the client see while it is quiet.
"""

import asyncio
import base64
import json
import logging

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils.crypto import constant_time_compare, salted_hmac

from server.transport import fastlane, response_stream

from .close_codes import TOO_SLOW
from .layers import LAYER_ERRORS

logger = logging.getLogger(__name__)

PREFIX = "/sse/"
SEND_PATH = PREFIX + "send"
EVENT_TYPE = "fallback.messages"  # the channel-layer event a POST sends
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    # nginx passes each event on at once instead of buffering the response.
    (b"x-accel-buffering", b"no"),
]
# The close an application that ends without one gets, and a stream whose
# relay lost the channel layer: the client reconnects (close-code table).
ENDED = (1011, "internal server error")
LAYER_LOST = (1013, "group messaging unavailable")
GOING_AWAY = 1001  # the HTTP connection ended: the application's disconnect


def token_for(session, cookie):
    return salted_hmac("http-fallback", f"{session}\n{cookie}").hexdigest()


def last_header(scope, name):
    value = None
    for key, each in scope["headers"]:
        if key == name:
            value = each
    return value


def session_cookie(scope):
    raw = (last_header(scope, b"cookie") or b"").decode("latin1")
    return parse_cookie(raw).get(settings.SESSION_COOKIE_NAME, "")


class HttpFallback:
    """The ASGI application for ``PREFIX``: streams for the WebSocket paths in
    ``routes`` (``/sse/<x>`` -> ``/ws/<x>``) and the send endpoint."""

    def __init__(self, websocket_application, routes, *, allows_host, allows_origin):
        self.websocket_application = websocket_application
        self.routes = {PREFIX + path.removeprefix("/ws/"): path for path in routes}
        # The handshake's own checks, for the POSTs, which do not pass its stack.
        self.allows_host, self.allows_origin = allows_host, allows_origin
        self.streams = 0  # open on this worker, against FALLBACK_MAX_STREAMS

    async def __call__(self, scope, receive, send):
        path, method = scope["path"], scope["method"]
        if path == SEND_PATH:
            if method != "POST":
                return await answer(send, 405, "method_not_allowed", "POST only")
            return await self.post(scope, receive, send)
        if path not in self.routes:
            return await answer(send, 404, "not_found", "no such stream")
        if method != "GET":
            return await answer(send, 405, "method_not_allowed", "GET only")
        if self.streams >= settings.FALLBACK_MAX_STREAMS:
            return await answer(send, 503, "too_many_streams", "try again later")
        self.streams += 1
        try:
            await EventStream(self, scope, receive, send).run()
        finally:
            self.streams -= 1

    async def post(self, scope, receive, send):
        if not self.allows_host(scope):
            return await answer(send, 400, "bad_host", "Host is not allowed")
        if not self.allows_origin(last_header(scope, b"origin")):
            return await answer(send, 403, "forbidden_origin", "cross-site request")
        try:
            body = await read_body(receive, settings.FALLBACK_MAX_BODY_BYTES)
        except ClientGone:
            return
        if body is None:
            limit = settings.FALLBACK_MAX_BODY_BYTES
            return await answer(send, 413, "too_large", f"at most {limit} bytes")
        try:
            request = json.loads(body)
            session, token = request["session"], request["token"]
            messages = request["messages"]
            if not all(isinstance(m, str) for m in [session, token, *messages]):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            detail = 'one JSON object: {"session", "token", "messages": [text...]}'
            return await answer(send, 400, "bad_request", detail)
        if not constant_time_compare(token, token_for(session, session_cookie(scope))):
            return await answer(send, 403, "bad_token", "not this stream's token")
        try:
            await get_channel_layer().send(
                session, {"type": EVENT_TYPE, "messages": messages}
            )
        except ChannelFull:
            return await answer(send, 429, "too_slow", "the stream is behind")
        except LAYER_ERRORS:
            return await answer(send, 503, "unavailable", "send it again later")
        await answer(send, 202, None, None, accepted=len(messages))


class EventStream:
    """One open stream and the application behind it."""

    def __init__(self, fallback, scope, receive, send):
        self.fallback = fallback
        self.scope, self.http_receive, self.http_send = scope, receive, send
        # What the application receives, in order. Bounded: while it is full
        # the relay stops taking from the channel layer, whose CHANNEL_CAPACITY
        # then refuses further POSTs (429), so a sender cannot outrun it.
        self.incoming = asyncio.Queue(settings.FALLBACK_QUEUED_MESSAGES)
        # The response as daphne offers it: writes that skip its reply path,
        # what waits unsent, and the fast lane (None under another server).
        self.response = scope.get("extensions", {}).get(response_stream.SCOPE_KEY)
        self.started = False  # the response's head was sent
        self.ended = False
        self.closing = False

    async def run(self):
        layer = get_channel_layer()
        self.session = await layer.new_channel("fallback")
        self.token = token_for(self.session, session_cookie(self.scope))
        self.incoming.put_nowait({"type": "websocket.connect"})
        application = asyncio.ensure_future(
            self.fallback.websocket_application(
                self.websocket_scope(), self.incoming.get, self.to_client
            )
        )
        helpers = [
            asyncio.ensure_future(task)
            for task in (self.relay(layer), self.watch_client(), self.keep_alive())
        ]
        try:
            await application
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if not self.ended:
                await self.close(*ENDED)

    def websocket_scope(self):
        scope = self.scope
        path = self.fallback.routes[scope["path"]]
        return {
            "type": "websocket",
            "asgi": scope.get("asgi", {"version": "3.0"}),
            "http_version": scope.get("http_version", "1.1"),
            "scheme": "wss" if scope.get("scheme") == "https" else "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": scope.get("query_string", b""),
            "root_path": scope.get("root_path", ""),
            "headers": scope["headers"],
            "client": scope.get("client"),
            "server": scope.get("server"),
            "subprotocols": [],
            "extensions": (
                {} if self.response is None else {fastlane.SCOPE_KEY: StreamLane(self)}
            ),
        }

    async def to_client(self, message):
        """The application's send: its accept, messages and close, as events."""
        kind = message["type"]
        if self.ended:
            return
        if kind == "websocket.accept":
            await self.http_send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": STREAM_HEADERS,
                }
            )
            self.started = True
            await self.event("session", {"session": self.session, "token": self.token})
        elif kind == "websocket.send":
            text = message.get("text")
            await self.write(data_event(text if text is not None else message["bytes"]))
        elif kind == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason") or "")

    async def close(self, code, reason):
        """End the stream with the close event (or, before it was accepted, a
        403 as a refused handshake gets), and tell the application."""
        self.closing = True
        if not self.started:
            self.ended = True
            await answer(self.http_send, 403, "refused", reason or "refused")
        else:
            await self.event("close", {"code": code, "reason": reason})
            self.ended = True
            await self.http_send({"type": "http.response.body", "body": b""})
        self.disconnect(code)

    def disconnect(self, code):
        """The application's last event; what it had not read yet is moot."""
        while not self.incoming.empty():
            self.incoming.get_nowait()
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": code})

    async def event(self, name, data):
        await self.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    async def write(self, chunk):
        if self.ended:
            return
        if self.response is None:
            body = {"type": "http.response.body", "body": chunk, "more_body": True}
            await self.http_send(body)
        elif self.write_now(chunk) is None:
            await self.drop_slow()

    def write_now(self, chunk):
        """Write ``chunk`` at once: True, or False if the stream is not open
        (the fast lane then takes the ordinary path), or None if the client
        has stopped reading and must be dropped."""
        if self.ended or not self.started:
            return False
        self.response.write(chunk)
        # A client that stops reading: closed as a WebSocket one would be,
        # past the same bound, and dropped with what waits for it.
        if (
            self.closing
            or self.response.unsent() <= settings.WEBSOCKET_SEND_BUFFER_BYTES
        ):
            return True
        self.closing = True
        return None

    async def drop_slow(self):
        logger.info("dropping fallback stream %s: it stopped reading", self.session)
        await self.close(TOO_SLOW.code, TOO_SLOW.reason)
        self.response.abort()

    async def relay(self, layer):
        """What POSTs delivered, to the application in the order posted."""
        try:
            while True:
                event = await layer.receive(self.session)
                for text in event["messages"]:
                    await self.incoming.put({"type": "websocket.receive", "text": text})
        except LAYER_ERRORS:
            logger.debug("fallback stream %s lost the channel layer", self.session)
            await self.close(*LAYER_LOST)

    async def watch_client(self):
        while (await self.http_receive())["type"] != "http.disconnect":
            pass
        self.ended = True
        self.disconnect(GOING_AWAY)

    async def keep_alive(self):
        while True:
            await asyncio.sleep(settings.FALLBACK_KEEPALIVE_SECONDS)
            if self.started:
                await self.write(b": keep-alive\n\n")


def data_event(content):
    """A message as an event: text as ``data:`` lines, bytes base64-encoded
    under the event name ``binary``."""
    if isinstance(content, str):
        return b"data: " + content.replace("\n", "\ndata: ").encode() + b"\n\n"
    return b"event: binary\ndata: " + base64.b64encode(content) + b"\n\n"


class StreamLane:
    """The fast lane onto an event stream (a ``fastlane.FrameWriter``): a
    group event's bytes prepared once per worker and written to each member's
    stream, without waking its consumer."""

    __slots__ = ("stream", "dropping")

    prepare_frame = staticmethod(data_event)

    def __init__(self, stream):
        self.stream = stream
        self.dropping = None

    def send_prepared(self, frame):
        written = self.stream.write_now(frame)
        if written is None:
            self.dropping = asyncio.ensure_future(self.stream.drop_slow())
        return written is not False


class ClientGone(Exception):
    """The HTTP client went away before its request was read."""


async def read_body(receive, limit):
    """The request's body, or None past ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return bytes(body)


async def answer(send, status, error, detail, **fields):
    """A JSON answer: ``{"error", "detail"}`` for a refusal, else ``fields``."""
    content = fields if error is None else {"error": error, "detail": detail}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(content).encode()})
