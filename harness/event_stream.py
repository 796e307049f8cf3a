"""A client of the HTTP fallback (server/extensions/http_fallback.py) for the
tests and the benchmark: one stream of server-sent events, read over a raw
asyncio connection (HTTP/1.1, chunked), and POSTs of client messages."""

import asyncio
import json
import urllib.request


class StreamClosed(Exception):
    """The response ended."""


class EventStream:
    """``GET path`` on 127.0.0.1:``port``; ``events()`` yields (name, data)."""

    def __init__(self, port, path, headers=()):
        self.port, self.path, self.headers = port, path, list(headers)
        self.status = None
        self.response_headers = {}
        self.session = self.token = None
        self.pending = b""  # decoded body bytes not yet parsed into events

    async def open(self):
        """Send the request and read the head; the status."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"GET {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin1"))
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin1")
        status_line, *header_lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        return self.status

    async def body(self):
        """The rest of a response that is not a stream (a refusal), as JSON."""
        length = self.response_headers.get("content-length")
        if length is not None:
            return json.loads(await self.reader.readexactly(int(length)))
        return json.loads(await self.chunk_or_end(whole=True))

    async def chunk_or_end(self, whole=False):
        data = b""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                if whole:
                    return data
                raise StreamClosed
            chunk = await self.reader.readexactly(size + 2)
            data += chunk[:-2]
            if not whole:
                return data

    async def next_event(self):
        """(name, data) of the next event; comments are skipped."""
        while b"\n\n" not in self.pending:
            self.pending += await self.chunk_or_end()
        block, self.pending = self.pending.split(b"\n\n", 1)
        name, data = "message", []
        for line in block.decode().split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if not data:  # a comment (keep-alive)
            return await self.next_event()
        event = (name, "\n".join(data))
        if name == "session":
            found = json.loads(event[1])
            self.session, self.token = found["session"], found["token"]
        return event

    async def next_message(self):
        """The next protocol message the server sent, parsed; StreamClosed
        with the close event's code once it ends."""
        name, data = await self.next_event()
        if name == "close":
            raise StreamClosed(json.loads(data))
        if name != "message":
            return await self.next_message()
        return json.loads(data)

    def close(self):
        self.writer.close()


def post(port, body, headers=()):
    """POST /sse/send; (status, JSON answer)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sse/send",
        data=data,
        headers={"Content-Type": "application/json", **dict(headers)},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def send(port, stream, *messages, headers=()):
    """POST protocol messages (dicts) to ``stream``'s session; the status."""
    body = {
        "session": stream.session,
        "token": stream.token,
        "messages": [json.dumps(message) for message in messages],
    }
    status, _ = await asyncio.to_thread(post, port, body, headers)
    return status


class Poster:
    """POSTs to /sse/send over one kept-alive connection, one at a time, each
    carrying what queued meanwhile (as the JavaScript client sends)."""

    def __init__(self, port, stream):
        self.port, self.stream = port, stream
        self.queue = []
        self.posting = None
        self.connection = None

    def send(self, text):
        self.queue.append(text)
        if self.posting is None or self.posting.done():
            self.posting = asyncio.ensure_future(self.flush())

    async def flush(self):
        while self.queue:
            messages, self.queue = self.queue, []
            body = json.dumps(
                {
                    "session": self.stream.session,
                    "token": self.stream.token,
                    "messages": messages,
                }
            ).encode()
            status = await self.post(body)
            if status != 202:
                raise RuntimeError(f"POST /sse/send answered {status}")

    async def post(self, body):
        if self.connection is None:
            self.connection = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.connection
        writer.write(
            b"POST /sse/send HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (self.port, len(body), body)
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin1")
        status = int(head.split()[1])
        lowered = head.lower()
        if "content-length:" in lowered:
            length = int(lowered.split("content-length:", 1)[1].split("\r\n", 1)[0])
            await reader.readexactly(length)
        else:  # chunked
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                await reader.readexactly(size + 2)
            await reader.readexactly(2)
        return status

    def close(self):
        if self.connection is not None:
            self.connection[1].close()
