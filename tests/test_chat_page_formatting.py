"""Formatted text in real Chromium: a corpus of hostile texts is posted into a
room, and with the page's CSP in force nothing in them runs, no element they
name appears, and the formatting a person asks for shows."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from clients.chat import OPEN, ChatClient
from tests.test_formatting import HOSTILE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]

FORMATTED = "**bold**, _italics_, `code`, a [link](https://example.com) and @reader"


def post(server, room, texts):
    """Post ``texts`` into ``room`` with the Python client, in order."""

    async def posting():
        url = server.url_for("/ws/chat/?name=mallory")
        async with ChatClient(url, user="mallory") as client:
            await client.wait_for(OPEN)
            joined = await client.join(room)
            for text in texts:
                await joined.send(text)

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, posting()).result()


def test_hostile_texts_run_nothing_and_formatting_shows(browser, start_daphne):
    server = start_daphne(CHAT_RATE_PER_SECOND="0")
    room = f"format-{uuid.uuid4().hex[:6]}"
    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"http://127.0.0.1:{server.port}/chat/")
    policy = page.evaluate(
        "async () => (await fetch(location.href))"
        ".headers.get('content-security-policy')"
    )
    assert "script-src 'self'" in policy
    page.fill("#name", "reader")
    page.click("#name-form button")
    expect(page.locator("#status")).to_have_text("online")
    page.fill("#room-name", room)
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text(f"# {room}")

    post(server, room, [*HOSTILE, FORMATTED])
    messages = page.locator("#messages li[data-id] .text")
    expect(messages).to_have_count(len(HOSTILE) + 1, timeout=20000)
    last = messages.last
    expect(last.locator("strong")).to_have_text("bold")
    expect(last.locator("em")).to_have_text("italics")
    expect(last.locator("code")).to_have_text("code")
    expect(last.locator("a")).to_have_attribute("href", "https://example.com")
    expect(last.locator(".mention.me")).to_have_text("@reader")
    # Hover and click over everything, as a person would.
    for item in messages.all():
        item.hover()
    for link in page.locator("#messages .text a").all():
        href = link.get_attribute("href")
        assert href.startswith(("https://", "http://", "/chat/#")), href
    found = page.evaluate(
        """() => ({
          pwned: window.pwned === 1,
          elements: document.querySelectorAll(
            '#messages script, #messages img, #messages svg, #messages iframe,'
            + ' #messages [style], #messages .text b').length,
          handlers: [...document.querySelectorAll('#messages *')].filter(
            (e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
        })"""
    )
    assert found == {"pwned": False, "elements": 0, "handlers": 0}
    assert dialogs == [] and errors == []
    page.close()
