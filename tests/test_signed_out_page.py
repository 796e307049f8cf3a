"""The chat page in real Chromium for a logged-in user: a notice from the
application is shown, and logging out in another tab closes this tab's socket
with 3000, after which it says so and does not reconnect."""

import json
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.browser_session import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]

PASSWORD = "a long enough password"
# The page's first reconnection comes within this (chat.js's backoff: 250 to
# 500 ms); a page that was told to stop makes none in it.
FIRST_RETRY_MS = 1500


@pytest.fixture
def server(logs_dir, server_database_url):
    env = servers.service_environment(DATABASE_URL=server_database_url, API_KEYS="k")
    running = servers.start_daphne(logs_dir, env)
    yield running
    running.stop()
    assert "Traceback" not in running.log


def test_a_logged_in_page_shows_notices_and_stops_when_signed_out(
    browser, server, server_database_url
):
    name = f"page{uuid.uuid4().hex[:6]}"
    make_user(server_database_url, name, PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    base = f"http://127.0.0.1:{server.port}"
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#status")).to_have_text("online")

    request = urllib.request.Request(
        f"{base}/api/users/{name}/send",
        data=json.dumps({"data": {"type": "notice", "text": "Export ready"}}).encode(),
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    expect(page.locator("#error.notice")).to_have_text("Export ready")

    other = context.new_page()
    other.goto(f"{base}/chat/")
    other.click("text=Log out")
    expect(page.locator("#status")).to_have_text("signed out")
    expect(page.locator("#error")).to_contain_text("signed out")
    page.wait_for_timeout(FIRST_RETRY_MS)
    assert len(sockets) == 1
    context.close()
