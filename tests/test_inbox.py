"""The one-reader queue (server.inbox) daphne hands each application instance."""

import asyncio

import pytest

from server.inbox import Inbox


async def test_messages_come_out_in_the_order_they_went_in():
    inbox = Inbox()
    for number in range(3):
        inbox.put_nowait({"number": number})
    assert [(await inbox.get())["number"] for _ in range(3)] == [0, 1, 2]


async def test_a_waiting_reader_wakes_when_a_message_arrives():
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("hello")
    assert await asyncio.wait_for(reader, 1) == "hello"


async def test_a_cancelled_reader_leaves_the_inbox_usable():
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    inbox.put_nowait("after")
    assert await inbox.get() == "after"


async def test_a_second_reader_at_once_is_an_error_not_a_hang():
    inbox = Inbox()
    first = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await inbox.get()
    first.cancel()
