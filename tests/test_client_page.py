"""The client page in a real browser against a real daphne."""

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]

XSS_PROBE = '<img src=x onerror="window.__injected = true">'


@pytest.fixture
def page(browser, echo_server):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"http://127.0.0.1:{echo_server.port}/")
    expect(page.locator("#status")).to_have_text("open")
    yield page
    page.close()
    assert errors == []


def log_items(page, kind):
    return page.locator(f"#log li.event-{kind}")


def test_page_opens_a_connection_and_reports_it(page):
    expect(log_items(page, "open")).to_have_count(1)
    expect(log_items(page, "open")).to_contain_text("/ws/echo/")
    expect(log_items(page, "open")).to_contain_text("subprotocol chat")


def test_chromium_negotiates_permessage_deflate_and_echoes_through_it(
    browser, start_daphne
):
    server = start_daphne(WEBSOCKET_PERMESSAGE_DEFLATE="1")
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{server.port}/")
    expect(log_items(page, "open")).to_contain_text(
        "extensions permessage-deflate; client_no_context_takeover;"
        " client_max_window_bits=12"
    )
    page.fill("#message", "squeeze " * 200)
    page.click("#send")
    expect(log_items(page, "message").last).to_contain_text(
        "message: text (1600 characters): squeeze squeeze"
    )
    page.close()


def test_send_button_echoes_the_message_as_text(page):
    page.fill("#message", "hello from chromium")
    page.click("#send")
    expect(log_items(page, "message").last).to_contain_text(
        "message: text (19 characters): hello from chromium"
    )


def test_enter_key_sends_and_binary_comes_back_marked_binary(page):
    page.check("#binary")
    page.fill("#message", "AB")
    page.press("#message", "Enter")
    expect(log_items(page, "message").last).to_contain_text("binary 2 bytes [41 42]")


def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(page):
    page.fill("#message", XSS_PROBE)
    page.click("#send")
    expect(log_items(page, "message").last).to_contain_text(f"): {XSS_PROBE}")
    assert page.locator("#log img").count() == 0
    assert page.evaluate("window.__injected") is None


def test_close_is_reported_with_code_and_reason_and_reconnect_reopens(page):
    page.click("#disconnect")
    expect(log_items(page, "close")).to_contain_text(
        'code 1000, reason "closed by the user"'
    )
    expect(page.locator("#status")).to_have_text("closed")
    page.click("#reconnect")
    expect(page.locator("#status")).to_have_text("open")
    expect(log_items(page, "open")).to_have_count(2)


def test_refused_connection_is_reported_as_error_and_close(page):
    page.fill("#group", "not a valid group!")
    page.click("#reconnect")
    expect(log_items(page, "error")).to_have_count(1)
    expect(log_items(page, "close").last).to_contain_text("code 1006")
