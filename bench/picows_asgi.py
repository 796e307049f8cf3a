"""A ceiling, not a server we ship: our ASGI application's WebSocket routes
(``project.asgi:application``) on picows (Cython framing) and uvloop, with
nothing between the consumer and picows' transport but an in-process queue.

It answers one question of the benchmark: with a native transport under the
same consumer, how fast would ours echo? It cheats where ASGI and picows
disagree, so that the figure is an upper bound:

- picows answers the handshake before the application runs (its listener
  factory is synchronous), so every handshake is accepted with 101 and no
  subprotocol, and the application's own accept or refusal comes after it;
- a message is one frame: the load sends nothing fragmented;
- there is no HTTP, no limit of our transport's and no backpressure.

It offers the fast lane (server/transport/fastlane.py) as our daphne does:
a group message is encoded once per worker and written by picows to each
member.
"""

import asyncio
from collections import deque

from picows import WSCloseCode, WSListener, WSMsgType

from bench.picows_server import serve_forever
from server.transport import fastlane

TEXT, BINARY, CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE


def websocket_scope(request, transport, connection):
    target = request.path
    path, _, query = target.partition(b"?")
    peer = transport.underlying_transport.get_extra_info("peername")
    host = transport.underlying_transport.get_extra_info("sockname")
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
    ]
    offered = request.headers.get("sec-websocket-protocol", "")
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": peer[:2],
        "server": host[:2],
        "subprotocols": [part.strip() for part in offered.split(",") if part.strip()],
        "extensions": {fastlane.SCOPE_KEY: connection},
    }


class Connection(WSListener):
    """One connection: frames in as ASGI events, ASGI messages out as frames."""

    def __init__(self, application, request):
        self.application = application
        self.request = request
        self.events = deque()
        self.waiter = None
        self.transport = None
        self.task = None

    def on_ws_connected(self, transport):
        self.transport = transport
        scope = websocket_scope(self.request, transport, self)
        self.put({"type": "websocket.connect"})
        self.task = asyncio.get_running_loop().create_task(
            self.application(scope, self.receive, self.send)
        )

    def on_ws_frame(self, transport, frame):
        kind = frame.msg_type
        if kind is TEXT:
            text = frame.get_payload_as_utf8_text()
            self.put({"type": "websocket.receive", "text": text})
        elif kind is BINARY:
            data = frame.get_payload_as_bytes()
            self.put({"type": "websocket.receive", "bytes": data})
        elif kind is CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport):
        received = transport.close_handshake and transport.close_handshake.recv
        code = int(received.code) if received else int(WSCloseCode.ABNORMAL_CLOSURE)
        self.put({"type": "websocket.disconnect", "code": code})

    def put(self, event):
        self.events.append(event)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self):
        while not self.events:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.events.popleft()

    @staticmethod
    def prepare_frame(content):
        if isinstance(content, str):
            return TEXT, content.encode()
        return BINARY, content

    def send_prepared(self, frame):
        transport = self.transport
        if transport.is_close_frame_sent or transport.is_disconnected:
            return False
        transport.send(*frame)
        return True

    async def send(self, message):
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                self.transport.send(TEXT, text.encode())
            else:
                self.transport.send(BINARY, message["bytes"])
        elif kind == "websocket.close":
            if not self.transport.is_close_frame_sent:
                reason = (message.get("reason") or "").encode()
                self.transport.send_close(message.get("code", 1000), reason)
            self.transport.disconnect()


if __name__ == "__main__":
    from project.asgi import application

    serve_forever(lambda request: Connection(application, request))
