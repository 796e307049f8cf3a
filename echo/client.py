"""A command-line WebSocket client for the echo service (or any WebSocket server).

    python -m echo.client ws://127.0.0.1:8000/ws/echo/
    printf 'one\\ntwo\\n' | python -m echo.client ws://127.0.0.1:8000/ws/echo/
    python -m echo.client ws://127.0.0.1:8000/ws/echo/ --count 1000 --size 64

Each line read from standard input is sent as a text message (with ``--binary``,
as its UTF-8 bytes in a binary message). Every message received is printed on a
line of its own: ``< text`` or ``< binary, N bytes: <hex>``. At the end of the
input the client waits until it has received as many messages as it sent (at
most ``--wait`` seconds), closes with 1000 and prints the close.

With ``--count``, it sends that many messages of ``--size`` bytes one at a
time, checks that each comes back unchanged and prints round trips per second
with the median and 99th percentile round trip.

The exit status says how it ended (``EXIT`` below).
"""

import argparse
import asyncio
import os
import statistics
import sys
import time

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from server.operations.terminal import read_lines

# Exit statuses.
EXIT = {
    "normal": 0,  # closed with 1000 (or 1001, the server going away)
    "abnormal": 1,  # closed with any other code, or the connection was lost
    "refused": 2,  # no WebSocket connection: refused, unreachable or not upgraded
    "mismatch": 3,  # --count: an echo was not the message sent
}
NORMAL_CLOSE_CODES = (1000, 1001)
# How many bytes of a binary message are printed as hex.
HEX_BYTES = 32


def parse(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m echo.client", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", help="ws:// or wss:// address")
    parser.add_argument(
        "--binary", action="store_true", help="send binary messages instead of text"
    )
    parser.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this subprotocol (repeatable)",
    )
    parser.add_argument("--origin", help="the Origin header to send")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra handshake header (repeatable)",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate",
    )
    parser.add_argument(
        "--count", type=int, help="send this many messages and time their echoes"
    )
    parser.add_argument(
        "--size", type=int, default=32, help="bytes per message with --count"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=5.0,
        help="seconds to wait for replies after the input ends (default 5)",
    )
    options = parser.parse_args(argv)
    if options.count is not None and (options.count < 1 or options.size < 0):
        parser.error("--count must be at least 1 and --size at least 0")
    for header in options.header:
        if ":" not in header:
            parser.error(f"--header {header!r} is not 'Name: value'")
    return options


def connect(options):
    headers = [tuple(part.strip() for part in h.split(":", 1)) for h in options.header]
    return websockets.connect(
        options.url,
        origin=options.origin,
        subprotocols=options.subprotocol or None,
        additional_headers=headers,
        compression=None if options.no_compression else "deflate",
        max_size=None,
    )


def describe(message):
    if isinstance(message, str):
        return f"< {message}"
    shown = message[:HEX_BYTES].hex()
    more = "..." if len(message) > HEX_BYTES else ""
    return f"< binary, {len(message)} bytes: {shown}{more}"


def describe_close(websocket):
    code = websocket.close_code
    reason = websocket.close_reason
    return f"closed: {code}" + (f" {reason}" if reason else "")


def exit_status(websocket):
    return (
        EXIT["normal"]
        if websocket.close_code in NORMAL_CLOSE_CODES
        else EXIT["abnormal"]
    )


async def converse(websocket, options, out, stream):
    """Send each line of ``stream``, print what arrives, then close."""
    counts = {"sent": 0, "received": 0}
    answered = asyncio.Event()

    async def print_received():
        async for message in websocket:
            counts["received"] += 1
            print(describe(message), file=out, flush=True)
            if counts["received"] >= counts["sent"]:
                answered.set()

    printer = asyncio.create_task(print_received())
    lines = read_lines(stream)
    while True:
        next_line = asyncio.create_task(lines.get())
        await asyncio.wait([next_line, printer], return_when="FIRST_COMPLETED")
        if printer.done() or next_line.result() is None:
            next_line.cancel()
            break
        line = next_line.result()
        answered.clear()
        counts["sent"] += 1
        await websocket.send(
            line if options.binary else line.decode("utf-8", "replace")
        )
    if not printer.done() and counts["received"] < counts["sent"]:
        waiting = asyncio.create_task(answered.wait())
        await asyncio.wait(
            [printer, waiting], timeout=options.wait, return_when="FIRST_COMPLETED"
        )
        waiting.cancel()
    await websocket.close()
    await printer


async def time_round_trips(websocket, options, out):
    """Send ``count`` messages one at a time; each echo must equal what was sent."""
    round_trips = []
    started = time.perf_counter()
    for _ in range(options.count):
        payload = os.urandom(options.size)
        message = payload if options.binary else payload.hex()[: options.size]
        sent_at = time.perf_counter()
        await websocket.send(message)
        echo = await websocket.recv()
        round_trips.append(time.perf_counter() - sent_at)
        if echo != message:
            print(f"echo differs from message {len(round_trips)}", file=out)
            return EXIT["mismatch"]
    elapsed = time.perf_counter() - started
    milliseconds = sorted(seconds * 1000 for seconds in round_trips)
    p99 = milliseconds[min(len(milliseconds) - 1, int(len(milliseconds) * 0.99))]
    print(
        f"{options.count} round trips of {options.size} bytes in {elapsed:.2f} s: "
        f"{options.count / elapsed:,.0f} rt/s, "
        f"p50 {statistics.median(milliseconds):.2f} ms, p99 {p99:.2f} ms",
        file=out,
        flush=True,
    )
    await websocket.close()
    return None


async def run(options, out=sys.stdout, stream=None):
    try:
        websocket = await connect(options)
    except InvalidStatus as error:
        print(f"refused: HTTP {error.response.status_code}", file=out)
        return EXIT["refused"]
    except (OSError, InvalidHandshake, TimeoutError) as error:
        print(f"cannot connect: {error}", file=out)
        return EXIT["refused"]
    if websocket.subprotocol:
        print(f"connected, subprotocol {websocket.subprotocol}", file=out, flush=True)
    else:
        print("connected", file=out, flush=True)
    try:
        if options.count:
            failed = await time_round_trips(websocket, options, out)
            if failed is not None:
                await websocket.close()
                return failed
        else:
            await converse(websocket, options, out, stream or sys.stdin.buffer)
    except ConnectionClosed:
        pass
    print(describe_close(websocket), file=out, flush=True)
    return exit_status(websocket)


def main(argv=None):
    options = parse(argv)
    try:
        return asyncio.run(run(options))
    except KeyboardInterrupt:
        return EXIT["abnormal"]


if __name__ == "__main__":
    sys.exit(main())
