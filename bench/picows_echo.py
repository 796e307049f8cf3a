"""A plain-Python ceiling: an echo server on picows (Cython), on uvloop.

Each text or binary frame goes back as it came; picows answers pings itself.
Messages of more than one frame are not reassembled: the load sends single
frames. What a server with nothing of its own on top can do."""

import argparse

import uvloop
from picows import WSListener, WSMsgType, ws_create_server

ECHOED = (WSMsgType.TEXT, WSMsgType.BINARY)


class Echo(WSListener):
    def on_ws_frame(self, transport, frame):
        if frame.msg_type in ECHOED:
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


async def main(port):
    server = await ws_create_server(lambda request: Echo(), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(main(parser.parse_args().port))
