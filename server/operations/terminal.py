"""What the command-line clients (``python -m echo.client``, ``python -m
chat.client``) share: the lines typed or piped at them, read without blocking
the event loop."""

import asyncio
import threading


def read_lines(stream):
    """An asyncio queue of the lines of ``stream``, then None at its end. A daemon
    thread reads, so a server that closes first does not wait for the next line."""
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        for line in iter(stream.readline, b""):
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip(b"\r\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()
    return lines
