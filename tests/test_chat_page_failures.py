"""The chat page in real Chromium through a worker SIGKILLed mid-conversation:
two workers on one Redis, a page on each, two writers (the Python client)
posting in turns. The killed worker comes back on its port, as a supervisor
would start it again; its page resumes, and each page shows every message
once, in order. The same again with the pages' WebSocket blocked, so that
they chat over the HTTP fallback; and through a Redis failover, the last
turns sent while Redis is down."""

import asyncio
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from playwright.sync_api import expect

from clients.chat import DEGRADED
from tests.conversation import (
    CONVERGE_SECONDS,
    PER_WRITER,
    check_conversation,
    converse,
    joined,
    member,
)

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.once]


# A network that blocks WebSocket, as a page sees it.
BLOCK_WEBSOCKET = """
window.WebSocket = class {
  constructor() { throw new DOMException("blocked by this network", "SecurityError"); }
};
"""


def open_room(browser, worker, name, room, transport="websocket"):
    page = browser.new_page()
    if transport == "http":
        page.add_init_script(BLOCK_WEBSOCKET)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(error))
    page.goto(f"http://127.0.0.1:{worker.port}/chat/")
    page.fill("#name", name)
    page.click("#name-form button")
    expect(page.locator("#status")).to_have_text("online", timeout=20000)
    expect(page.locator("#status")).to_have_attribute("data-transport", transport)
    page.fill("#room-name", room)
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text(f"# {room}")
    return page


def shown(page):
    """(id, text) of each message the page lists, top to bottom."""
    return page.eval_on_selector_all(
        "#messages li[data-id]:not(.system)",
        "items => items.map(li => [Number(li.dataset.id),"
        " li.querySelector('.text').textContent])",
    )


def check_pages(pages, writers, confirmed):
    """Each page lists every message once, in order."""
    total = PER_WRITER * len(writers)
    for page in pages:
        listed = page.locator("#messages li[data-id]:not(.system)")
        expect(listed).to_have_count(total, timeout=CONVERGE_SECONDS * 1000)
    texts = {}
    for number, page in enumerate(pages):
        items = shown(page)
        ids = [item[0] for item in items]
        assert ids == sorted(set(ids)), f"page {number} shows one twice or out of order"
        texts[f"page {number}"] = [item[1] for item in items]
        assert page.errors == []
        page.close()
    check_conversation(writers, confirmed, texts)


def writers_through(urls, room, writers, provoke, at=PER_WRITER // 3):
    """The writers' conversation, on a thread of its own (Playwright's sync
    API holds this one's event loop); their confirmed ids."""

    async def conversation():
        clients = [member(writers[w], urls, w) for w in (0, 1)]
        try:
            rooms = await joined(clients, room)
            return await converse(rooms, lambda: provoke(clients), at)
        finally:
            for client in clients:
                await client.close()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, conversation()).result()


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_pages_resume_after_their_worker_is_killed_and_show_each_message_once(
    browser, start_daphne, redis_url, transport
):
    redis.Redis.from_url(redis_url).flushdb()
    settings = {"REDIS_URL": redis_url, "CHAT_RATE_BURST": "1000"}
    workers = [start_daphne(**settings) for _ in range(2)]
    urls = [worker.url_for("/ws/chat/") for worker in workers]
    tag = uuid.uuid4().hex[:6]
    room = f"page-kill-{tag}"
    pages = [
        open_room(browser, workers[w], f"p{w}{tag}", room, transport) for w in (0, 1)
    ]
    writers = [f"wa{tag}", f"wb{tag}"]

    async def kill_and_restart_the_first(clients):
        port = workers[0].port
        workers[0].process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(start_daphne, port=port, **settings)

    confirmed = writers_through(urls, room, writers, kill_and_restart_the_first)
    check_pages(pages, writers, confirmed)


def test_pages_ride_out_a_redis_failover_and_show_each_message_once(
    browser, start_daphne, sentinels
):
    settings = {"REDIS_URL": sentinels.url, "CHAT_RATE_BURST": "1000"}
    workers = [start_daphne(**settings) for _ in range(2)]
    urls = [worker.url_for("/ws/chat/") for worker in workers]
    tag = uuid.uuid4().hex[:6]
    room = f"page-failover-{tag}"
    pages = [open_room(browser, workers[w], f"p{w}{tag}", room) for w in (0, 1)]
    writers = [f"wa{tag}", f"wb{tag}"]

    async def kill_the_master(clients):
        sentinels.kill_master()
        async with asyncio.timeout(CONVERGE_SECONDS):
            await asyncio.gather(*(client.wait_for(DEGRADED) for client in clients))

    # The last turns go while Redis is down: each page hears the other
    # worker's writer only by asking once restored.
    confirmed = writers_through(urls, room, writers, kill_the_master, PER_WRITER - 5)
    check_pages(pages, writers, confirmed)
