"""The one-reader queue daphne hands each application instance
(server/transport/single_reader_queue.py)."""

import asyncio

import pytest

from server.transport.single_reader_queue import SingleReaderQueue


async def test_messages_come_out_in_the_order_they_went_in():
    queue = SingleReaderQueue()
    for number in range(3):
        queue.put_nowait({"number": number})
    assert [(await queue.get())["number"] for _ in range(3)] == [0, 1, 2]


async def test_a_waiting_reader_wakes_when_a_message_arrives():
    queue = SingleReaderQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait("hello")
    assert await asyncio.wait_for(reader, 1) == "hello"


async def test_a_cancelled_reader_leaves_the_queue_usable():
    queue = SingleReaderQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    queue.put_nowait("after")
    assert await queue.get() == "after"


async def test_a_second_reader_at_once_is_an_error_not_a_hang():
    queue = SingleReaderQueue()
    first = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await queue.get()
    first.cancel()
