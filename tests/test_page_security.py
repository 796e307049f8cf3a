"""Security headers on every page, checked in a real browser and over HTTP."""

import urllib.request

import pytest
from playwright.sync_api import expect

from tests.client import http_get

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]

PAGES = ["/", "/chat/", "/accounts/login/", "/admin/login/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_forbids_inline_script(echo_server, path):
    _, headers, _ = http_get(echo_server, path)
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_without_breaking_its_policy(browser, echo_server, path):
    page = browser.new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(f"http://127.0.0.1:{echo_server.port}{path}")
    page.wait_for_load_state("load")
    if path == "/":
        expect(page.locator("#status")).to_have_text("open")
    page.close()
    assert violations == []


def test_an_inline_script_put_into_a_page_does_not_run(browser, echo_server):
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{echo_server.port}/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.append(script);
        }"""
    )
    assert page.evaluate("() => window.__ran === undefined")
    page.close()


def test_behind_https_cookies_are_secure_and_hsts_is_sent(start_daphne):
    server = start_daphne(SECURE_COOKIES="1")
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/accounts/login/",
        headers={"X-Forwarded-Proto": "https"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["Strict-Transport-Security"].startswith(
            "max-age=31536000"
        )
        cookie = response.headers["Set-Cookie"]
    assert "csrftoken=" in cookie and "Secure" in cookie
