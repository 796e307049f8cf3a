"""Two signed-in people using the chat page in real Chromium, each on their
own daphne worker (Redis between them): private rooms, invitations, unread
badges and the "new messages" line, edits, reactions, deletions, moderation
and "seen". Screenshots land in the test's log folder."""

import re

import pytest
from playwright.sync_api import expect

from tests.chat_client import registered_users, unique

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.once,
    pytest.mark.beside,
]


@pytest.fixture(scope="module")
def workers(start_module_daphne, redis_url):
    return [start_module_daphne(REDIS_URL=redis_url) for _ in range(2)]


@pytest.fixture(scope="module")
def people(server_database_url):
    names = [unique("alice"), unique("bob")]
    return registered_users(server_database_url, names)


@pytest.fixture
def open_as(browser, workers, people):
    contexts = []

    def open_page(name, worker=0):
        server = workers[worker]
        context = browser.new_context(viewport={"width": 1280, "height": 760})
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": people[name],
                    "url": f"http://127.0.0.1:{server.port}",
                }
            ]
        )
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(error))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"http://127.0.0.1:{server.port}/chat/")
        expect(page.locator("#status")).to_have_text("online")
        contexts.append((context, page))
        return page

    yield open_page
    for context, page in contexts:
        assert page.errors == []
        context.close()


def names(people):
    return list(people)


def say(page, text):
    page.fill("#text", text)
    page.press("#text", "Enter")


def message(page, text):
    return page.locator("#messages li[data-id]", has_text=text)


def room_button(page, room):
    return page.locator("#sidebar li button", has_text=room)


def test_a_first_visit_starts_in_a_room(open_as, people):
    page = open_as(names(people)[0])
    expect(page.locator("#room-title")).to_have_text("# lobby")
    expect(page.locator("#text")).to_be_enabled()


def test_two_people_in_a_private_room_invite_read_edit_react_and_delete(
    open_as, people, logs_dir
):
    alice, bob = names(people)
    room = unique("plans-")
    first = open_as(alice, 0)
    second = open_as(bob, 1)

    first.fill("#room-name", room)
    first.check("#room-private")
    first.click("#new-room button")
    expect(first.locator("#room-title")).to_have_text(f"# {room}")
    expect(first.locator("#room-badges")).to_contain_text("private")
    expect(first.locator("#member-list")).to_contain_text("owner")
    first.fill("#invite-user", bob)
    first.press("#invite-user", "Enter")
    expect(first.locator("#member-list")).to_contain_text(bob)
    expect(second.locator("#error")).to_contain_text(f"{alice} added you")
    expect(room_button(second, room)).to_be_visible()

    say(first, "the plan is on the wiki")
    say(first, f"@{bob} can you check it?")
    expect(message(first, "can you check it")).to_have_count(1)
    second.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(room_button(second, room).locator(".unread")).to_have_text("2")
    expect(room_button(second, room).locator(".mentions")).to_have_text("@1")

    room_button(second, room).click()
    expect(second.locator("#room-title")).to_have_text(f"# {room}")
    expect(second.locator("#messages .new-line")).to_have_text("New messages")
    expect(second.locator("#messages .mention.me")).to_have_text(f"@{bob}")
    expect(room_button(second, room).locator(".unread")).to_have_count(0)

    # Alice edits with arrow-up in an empty box, as in Slack.
    first.click("#text")
    first.press("#text", "ArrowUp")
    first.fill(".edit-form input", f"@{bob} can you check it today?")
    first.press(".edit-form input", "Enter")
    expect(message(second, "today?").locator(".edited")).to_have_text("edited")

    # Bob reacts from the keyboard: the message, its React tool, an emoji.
    message(second, "the plan").focus()
    second.keyboard.press("Tab")
    expect(second.locator(":focus")).to_have_text("React")
    second.keyboard.press("Enter")
    second.get_by_label("React 🎉").first.click()
    expect(message(first, "the plan").locator(".chip")).to_have_text("🎉 1")
    expect(message(first, "the plan").locator(".chip")).to_have_attribute(
        "aria-pressed", "false"
    )
    second.screenshot(path=str(logs_dir / "chat-team-bob.png"))

    message(first, "the plan").hover()
    message(first, "the plan").get_by_role("button", name="Delete").click()
    expect(message(second, "This message was deleted.")).to_have_count(1)
    expect(message(second, "the plan")).to_have_count(0)
    first.screenshot(path=str(logs_dir / "chat-team-alice.png"))

    # What Bob saw is stored as read: a reload shows no unread count.
    second.reload()
    expect(second.locator("#status")).to_have_text("online")
    expect(room_button(second, room)).to_be_visible()
    expect(room_button(second, room).locator(".unread")).to_have_count(0)
    expect(room_button(second, room).locator(".mentions")).to_have_count(0)


def test_a_moderator_mutes_then_bans_someone_from_the_page(open_as, people, logs_dir):
    alice, bob = names(people)
    room = unique("support-")
    first = open_as(alice, 0)
    second = open_as(bob, 1)
    first.fill("#room-name", room)
    first.click("#new-room button")  # a public room: alice made it, so she owns it
    expect(first.locator("#room-badges")).to_contain_text("owner")
    second.fill("#room-name", room)
    second.click("#new-room button")
    expect(second.locator("#room-title")).to_have_text(f"# {room}")
    say(second, "first!!!")
    expect(message(first, "first!!!")).to_have_count(1)

    message(first, "first!!!").hover()
    expect(
        message(first, "first!!!").get_by_role("button", name="Delete")
    ).to_be_visible()
    first.locator("#online").get_by_role("button", name=f"Mute {bob}").click()
    expect(second.locator("#muted-note")).to_be_visible()
    expect(second.locator("#text")).to_be_disabled()
    expect(first.locator("#messages li.system")).to_contain_text(f"{alice} muted {bob}")
    expect(first.locator("#member-list")).to_contain_text("muted")
    second.screenshot(path=str(logs_dir / "chat-muted.png"))
    first.locator("#member-list").get_by_role("button", name=f"Ban {bob}").click()
    expect(second.locator("#error")).to_contain_text(f"{alice} banned you from")
    expect(second.locator("#room-title")).to_have_text("Pick a room")
    expect(room_button(second, room)).to_have_count(0)
    first.screenshot(path=str(logs_dir / "chat-moderator.png"))


def test_a_direct_message_shows_seen_once_the_other_person_reads_it(
    open_as, people, logs_dir
):
    alice, bob = names(people)
    first = open_as(alice, 0)
    second = open_as(bob, 1)
    first.fill("#direct-user", bob)
    first.press("#direct-user", "Enter")
    expect(first.locator("#room-title")).to_have_text(bob)
    say(first, "lunch at noon?")
    expect(message(first, "lunch at noon?")).to_have_count(1)
    expect(first.locator(".seen")).to_have_count(0)
    second.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    direct = second.locator("#directs li button", has_text=alice)
    expect(direct.locator(".unread")).to_have_text(re.compile(r"\d+"))
    direct.click()
    expect(message(second, "lunch at noon?")).to_have_count(1)
    expect(message(first, "lunch at noon?").locator(".seen")).to_have_text(
        f"Seen by {bob}"
    )
    first.screenshot(path=str(logs_dir / "chat-seen.png"))


def test_reading_in_one_tab_clears_the_badge_in_another(open_as, people):
    alice, bob = names(people)
    room = unique("news-")
    first = open_as(alice, 0)
    first.fill("#room-name", room)
    first.click("#new-room button")
    expect(first.locator("#room-title")).to_have_text(f"# {room}")
    say(first, "news one")
    say(first, "news two")
    expect(message(first, "news two")).to_have_count(1)

    elsewhere = open_as(bob, 0)  # stays in the lobby
    reading = open_as(bob, 1)
    expect(room_button(elsewhere, room).locator(".unread")).to_have_text("2")
    room_button(reading, room).click()
    expect(message(reading, "news two")).to_have_count(1)
    expect(room_button(elsewhere, room).locator(".unread")).to_have_count(0)


def test_the_away_email_choice_is_kept_and_a_link_from_an_email_opens_it(
    open_as, people, workers
):
    alice, bob = names(people)
    page = open_as(alice)
    checkbox = page.locator("#email-away")
    expect(checkbox).to_be_enabled()
    expect(checkbox).to_be_checked()
    checkbox.uncheck()
    room = unique("linked-")
    page.fill("#room-name", room)
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text(f"# {room}")
    for number in range(60):
        say(page, f"line {number}")
    expect(message(page, "line 59")).to_be_visible()
    first = message(page, "line 0").get_attribute("data-id")

    other = open_as(bob, worker=1)
    expect(other.locator("#email-away")).to_be_checked()
    other.goto(
        f"http://127.0.0.1:{workers[1].port}/chat/#room={room}&id={int(first) + 1}"
    )
    target = other.locator(f'#messages li[data-id="{int(first) + 1}"]')
    expect(target).to_contain_text("line 1")
    expect(target).to_have_class(re.compile(r"\bfound\b"))
    expect(target).to_be_in_viewport()
    page.reload()
    expect(page.locator("#email-away")).to_be_enabled()
    expect(page.locator("#email-away")).not_to_be_checked()
