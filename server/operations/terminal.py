"""What the command-line clients (``python -m echo.client``, ``python -m
chat.client``) share: the lines typed or piped at them, read without blocking
the event loop."""

import asyncio
import os
import threading

READ_BYTES = 65536


def read_lines(stream):
    """An asyncio queue of the lines of ``stream``, then None at its end. A daemon
    thread reads, so a server that closes first does not wait for the next line.

    It reads the file descriptor itself, not the buffered stream: a client that
    exits while the thread waits for input would otherwise abort at interpreter
    shutdown, which cannot take the stream's lock from a daemon thread."""
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        for line in stream_lines(stream):
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip(b"\r\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()
    return lines


def stream_lines(stream):
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield from iter(stream.readline, b"")
        return
    pending = b""
    while chunk := os.read(descriptor, READ_BYTES):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending
