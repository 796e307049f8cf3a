"""webrockets (a Rust WebSocket server for Python) set up the way its README
shows: an echo route, and a group route whose every message is published to
the Redis broker, which hands it to each process's members of the group.

Like the websockets broadcast, a message is raw text to everyone in the
group: no per-connection queue of ours, no delivery guarantee."""

import argparse

import webrockets
from webrockets import WebsocketServer

GROUP = "bench"


def main(port, redis_url):
    broker = None
    if redis_url:
        broker = {"type": "redis", "url": redis_url, "channel": GROUP}
    server = WebsocketServer("127.0.0.1", port, broker=broker)
    if broker:
        webrockets.setup_broadcast(broker)

    echo = server.create_route("/ws/echo/")

    @echo.receive
    def echoed(connection, message):
        connection.send(message)

    group = server.create_route("/ws/echo/bench/", default_group=GROUP)

    @group.receive
    def published(connection, message):
        if isinstance(message, bytes):
            message = message.decode()
        if broker:
            webrockets.broadcast([GROUP], message)
        else:
            connection.broadcast([GROUP], message)

    server.start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="")
    arguments = parser.parse_args()
    main(arguments.port, arguments.redis)
