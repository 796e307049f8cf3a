"""The chat page in real Chromium against a real daphne."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.chat_client import chat

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]


@pytest.fixture
def server(logs_dir, server_database_url):
    env = servers.service_environment(DATABASE_URL=server_database_url)
    running = [servers.start_daphne(logs_dir, env)]
    yield running
    for each in running:
        each.stop()
        assert "Traceback" not in each.log


@pytest.fixture
def open_page(browser, server):
    pages = []

    def open_as(name):
        page = browser.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(error))
        page.goto(f"http://127.0.0.1:{server[0].port}/chat/")
        page.fill("#name", name)
        page.click("#name-form button")
        expect(page.locator("#status")).to_have_text("online")
        pages.append(page)
        return page

    yield open_as
    for page in pages:
        assert page.errors == []
        page.close()


def enter_room(page, room):
    page.fill("#room-name", room)
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text(f"# {room}")


def say(page, text):
    page.fill("#text", text)
    page.press("#text", "Enter")


def messages(page, text):
    return page.locator("#messages li .text", has_text=text)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_two_people_see_each_others_messages_presence_and_typing(open_page):
    room, alice, bob = unique("room"), unique("alice"), unique("bob")
    first, second = open_page(alice), open_page(bob)
    enter_room(first, room)
    enter_room(second, room)
    expect(first.locator("#online")).to_contain_text(bob)
    expect(second.locator("#online")).to_contain_text(alice)
    first.type("#text", "typing")
    expect(second.locator("#typing")).to_have_text(f"{alice} is typing…")
    say(first, '<img src=x onerror="window.__injected = true"> hello')
    expect(messages(second, "hello")).to_have_count(1)
    expect(messages(second, "hello")).to_have_text(
        '<img src=x onerror="window.__injected = true"> hello'
    )
    assert second.evaluate("window.__injected") is None
    second.close()
    expect(first.locator("#online")).not_to_contain_text(bob)


def test_a_reloaded_page_shows_the_history_once(open_page):
    room = unique("room")
    page = open_page(unique("alice"))
    enter_room(page, room)
    for number in range(3):
        say(page, f"line {number}")
        expect(messages(page, f"line {number}")).to_have_count(1)
    page.reload()
    expect(page.locator("#status")).to_have_text("online")
    enter_room(page, room)
    for number in range(3):
        expect(messages(page, f"line {number}")).to_have_count(1)


def test_a_page_whose_server_restarted_reconnects_and_shows_what_it_missed_once(
    open_page, server, logs_dir, server_database_url
):
    room = unique("room")
    page = open_page(unique("alice"))
    enter_room(page, room)
    say(page, "before the restart")
    expect(messages(page, "before the restart")).to_have_count(1)

    port = server[0].port
    server[0].stop()
    expect(page.locator("#status")).not_to_have_text("online")
    env = servers.service_environment(DATABASE_URL=server_database_url)
    server[0] = servers.start_daphne(logs_dir, env, port=port)

    async def meanwhile():
        async with chat(server[0], unique("bob")) as bob:
            await bob.join(room)
            await bob.say(room, "sent while you were away")
            await bob.next("message", room=room)

    # Playwright's sync API holds this thread's event loop; the client gets its own.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, meanwhile()).result()
    expect(page.locator("#status")).to_have_text("online", timeout=20000)
    expect(messages(page, "sent while you were away")).to_have_count(1)
    expect(messages(page, "before the restart")).to_have_count(1)
    expect(page.locator("#messages li")).to_have_count(2)
