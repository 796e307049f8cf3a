"""A frame-level WebSocket client, for the tests that must send what a normal
client library refuses to: invalid UTF-8, thousands of fragments, a ping in the
middle of a message, a compressed frame that inflates past every limit."""

import base64
import os
import socket
import struct
import zlib

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class RawWebSocket:
    def __init__(self, port, path="/ws/echo/", timeout=10, extensions=None, host=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        host = f"127.0.0.1:{port}" if host is None else host
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                + (f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else "")
                + "\r\n"
            ).encode()
        )
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        self.status_line, *lines = head.decode().split("\r\n")
        if " 101 " not in self.status_line:
            raise ConnectionError(self.status_line)
        self.headers = {
            name.strip().lower(): value.strip()
            for name, value in (line.split(":", 1) for line in lines)
        }
        self.last_rsv1 = False

    def _read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exactly(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the TCP connection")
        self.buffer += chunk

    def send_frame(self, opcode, payload=b"", fin=True, rsv1=False):
        first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        repeated = (mask * (length // 4 + 1))[:length]
        masked = (
            int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
        ).to_bytes(length, "big")
        self.sock.sendall(header + mask + masked)

    def send_close(self, code, reason=""):
        self.send_frame(CLOSE, struct.pack("!H", code) + reason.encode())

    def read_frame(self):
        """(fin, opcode, payload) of the next frame from the server."""
        first, second = self._read_exactly(2)
        self.last_rsv1 = bool(first & 0x40)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return bool(first & 0x80), first & 0x0F, self._read_exactly(length)

    def read_message(self):
        """(opcode, payload) of the next whole data message, skipping control frames."""
        opcode, parts = None, []
        while True:
            fin, frame_opcode, payload = self.read_frame()
            if frame_opcode in (PING, PONG):
                continue
            if frame_opcode == CLOSE:
                raise ConnectionError(f"closed: {close_code(payload)}")
            opcode = opcode if frame_opcode == CONTINUATION else frame_opcode
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def read_close(self):
        """(code, reason) of the server's close frame, skipping anything before it."""
        while True:
            _, opcode, payload = self.read_frame()
            if opcode == CLOSE:
                return close_code(payload)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def close_code(payload):
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()


def deflate(data, window_bits=15):
    """``data`` as one permessage-deflate message body (RFC 7692 section 7.2.1):
    raw deflate, flushed, without the final empty block's four bytes."""
    compressor = zlib.compressobj(wbits=-window_bits)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def inflate(data):
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")
