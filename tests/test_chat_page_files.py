"""Files in the chat page, in real Chromium against two daphne workers: a
file picked, one dropped and one pasted, each uploaded with its progress and
sent with a message; the other member sees the image's thumbnail and the
file's download, each on their own worker. Screenshots land in the test's
log folder."""

import base64
import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.chat_client import registered_users, unique

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url, tmp_path_factory):
    media = tmp_path_factory.mktemp("page-media")
    return [
        start_module_daphne(REDIS_URL=redis_url, MEDIA_ROOT=str(media))
        for _ in range(2)
    ]


@pytest.fixture(scope="module")
def people(server_database_url):
    return registered_users(server_database_url, [unique("alice"), unique("bob")])


def signed_in_page(browser, server, session):
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": session,
                "url": f"http://127.0.0.1:{server.port}",
            }
        ]
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(error))
    page.goto(f"http://127.0.0.1:{server.port}/chat/")
    expect(page.locator("#status")).to_have_text("online")
    return context, page


def png_bytes(colour, size=(640, 360)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


# Drop and paste hand the page a File, as Chromium does for a real drag or paste.
DROP = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  const main = document.querySelector("main");
  const how = { dataTransfer: transfer, bubbles: true, cancelable: true };
  main.dispatchEvent(new DragEvent("dragover", how));
  main.dispatchEvent(new DragEvent("drop", how));
}"""
PASTE = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  const how = { clipboardData: transfer, bubbles: true, cancelable: true };
  document.getElementById("text").dispatchEvent(new ClipboardEvent("paste", how));
}"""


def test_files_picked_dropped_and_pasted_reach_the_other_member(
    browser, workers, people, logs_dir
):
    (alice, alice_session), (bob, bob_session) = people.items()
    room = unique("design-")
    alice_context, alice_page = signed_in_page(browser, workers[0], alice_session)
    bob_context, bob_page = signed_in_page(browser, workers[1], bob_session)
    for page in (alice_page, bob_page):
        page.fill("#room-name", room)
        page.click("#new-room button")
        expect(page.locator("#room-title")).to_have_text(f"# {room}")

    alice_page.set_input_files(
        "#file-input",
        files=[
            {
                "name": "mockup.png",
                "mimeType": "image/png",
                "buffer": png_bytes("#3b82f6"),
            },
            {
                "name": "agenda.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n% an agenda\n%%EOF\n",
            },
        ],
    )
    dropped = base64.b64encode(png_bytes("#f59e0b", (300, 300))).decode()
    alice_page.evaluate(DROP, ["dropped.png", dropped])
    pasted = base64.b64encode(png_bytes("#10b981", (200, 400))).decode()
    alice_page.evaluate(PASTE, ["", pasted])
    chips = alice_page.locator("#attachments .attachment")
    expect(chips).to_have_count(4)
    expect(alice_page.locator("#attachments .attachment.done")).to_have_count(4)
    for value in alice_page.locator("#attachments progress").evaluate_all(
        "bars => bars.map(bar => bar.value)"
    ):
        assert value == 1
    alice_page.screenshot(path=str(logs_dir / "chat-files-attaching.png"))
    alice_page.fill("#text", "Mockups for **Friday**, and the agenda")
    alice_page.press("#text", "Enter")
    expect(alice_page.locator("#attachments")).to_be_hidden()

    sent = bob_page.locator("#messages li[data-id]", has_text="Mockups for")
    images = sent.locator(".files a.image img")
    expect(images).to_have_count(3)
    expect(sent.locator(".files a.file")).to_have_text("PDFagenda.pdf27 B")
    # Each thumbnail loads, from the worker the uploader did not use.
    bob_page.wait_for_function(
        """() => {
          const shown = [...document.querySelectorAll("#messages .files img")];
          return shown.length === 3 && shown.every((i) => i.complete && i.naturalWidth);
        }"""
    )
    assert images.first.get_attribute("alt") == "mockup.png"
    bob_page.screenshot(path=str(logs_dir / "chat-files-received.png"))

    alice_page.set_input_files(
        "#file-input",
        files=[
            {
                "name": "photos.zip",
                "mimeType": "application/zip",
                "buffer": b"PK\x03\x04\x14\x00" + bytes(range(256)),
            }
        ],
    )
    refused = alice_page.locator("#attachments .attachment.failed")
    expect(refused).to_contain_text("is not taken")

    for context, page in ((alice_context, alice_page), (bob_context, bob_page)):
        assert page.errors == []
        context.close()
