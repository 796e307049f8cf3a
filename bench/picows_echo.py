"""A plain-Python ceiling: an echo server on picows (Cython), on uvloop.

Each text or binary frame goes back as it came; picows answers pings itself.
Messages of more than one frame are not reassembled: the load sends single
frames. What a server with nothing of its own on top can do."""

from picows import WSListener, WSMsgType

from bench.picows_server import serve_forever

ECHOED = (WSMsgType.TEXT, WSMsgType.BINARY)


class Echo(WSListener):
    def on_ws_frame(self, transport, frame):
        if frame.msg_type in ECHOED:
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


if __name__ == "__main__":
    serve_forever(lambda request: Echo())
