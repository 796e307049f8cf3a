"""The fast lane, as the transport offers it: a frame prepared once and written
to many connections.

A WebSocket scope carries the connection under ``scope["extensions"][SCOPE_KEY]``
as a ``FrameWriter``; the channel layer (server/extensions/layers/local.py)
writes a group message through it to every member that is waiting, instead of
framing it once per member.
"""

from typing import Protocol

SCOPE_KEY = "fastlane"


class FrameWriter(Protocol):
    """A connection that can write a frame prepared for any number of them."""

    @staticmethod
    def prepare_frame(content: str | bytes) -> object:
        """``content`` framed once: a str as a text message, bytes as binary.
        A frame is written only to connections of the class that prepared it."""

    def send_prepared(self, frame: object) -> bool:
        """Write a frame from ``prepare_frame``; False if the connection is not
        open, for the caller to take the ordinary path instead."""
