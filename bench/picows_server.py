"""The main of each picows server in the benchmark: a listener factory served
on loopback at ``--port``, on uvloop, until the process is stopped."""

import argparse

import uvloop
from picows import ws_create_server


def serve_forever(listener_factory):
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port

    async def serve():
        server = await ws_create_server(listener_factory, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())
