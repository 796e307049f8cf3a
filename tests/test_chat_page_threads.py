"""Threads and search in the chat page, in real Chromium against a real
daphne: a reply from another client lands in its thread, not in the room's
list; the root counts it; the page replies in the thread; a search shows the
match marked and takes the reader to it."""

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from clients.chat import OPEN, ChatClient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]


def as_mallory(server, work):
    """Run ``work(client)`` with a Python chat client named mallory."""

    async def running():
        url = server.url_for("/ws/chat/?name=mallory")
        async with ChatClient(url, user="mallory") as client:
            await client.wait_for(OPEN)
            return await work(client)

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, running()).result()


def test_a_thread_and_a_search_in_the_page(browser, start_daphne, tmp_path):
    server = start_daphne(CHAT_RATE_PER_SECOND="0")
    room, word = f"threads-{uuid.uuid4().hex[:6]}", f"quokka{uuid.uuid4().hex[:4]}"
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"http://127.0.0.1:{server.port}/chat/")
    page.fill("#name", "reader")
    page.click("#name-form button")
    expect(page.locator("#status")).to_have_text("online")
    page.fill("#room-name", room)
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text(f"# {room}")

    async def start_a_thread(client):
        joined = await client.join(room)
        root = await joined.send(f"Who has the {word} deck for Friday?")
        await joined.send("I do, sharing it after lunch", reply_to=root["id"])
        await joined.send("Room B is booked from 3")
        return root["id"]

    root = as_mallory(server, start_a_thread)
    listed = page.locator("#messages li[data-id]")
    expect(listed).to_have_count(2)
    summary = page.locator(f'#messages li[data-id="{root}"] .thread-summary')
    expect(summary).to_contain_text("1 reply")
    expect(summary).to_contain_text("mallory: I do, sharing it after lunch")

    summary.click()
    thread = page.locator("#thread-messages li[data-id]")
    expect(thread).to_have_count(2)
    page.fill("#thread-text", "Thanks, **Friday** it is")
    page.press("#thread-text", "Enter")
    expect(thread).to_have_count(3)
    expect(thread.last.locator("strong")).to_have_text("Friday")
    expect(summary).to_contain_text("2 replies")
    expect(summary).to_contain_text("reader: Thanks, Friday it is")
    expect(listed).to_have_count(2)
    page.screenshot(path=str(tmp_path / "thread.png"))

    page.fill("#search-query", f"{word} from:mallory")
    page.press("#search-query", "Enter")
    result = page.locator("#search-results li")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text(word)
    page.screenshot(path=str(tmp_path / "search.png"))
    result.click()
    expect(page.locator(f'#messages li[data-id="{root}"]')).to_have_class(
        re.compile(r"\bfound\b")
    )
    assert errors == []
