"""Chat texts as formatted HTML (chat/formatting.py): what Markdown gives, and
what a hostile text cannot get through."""

from html.parser import HTMLParser

import pytest

from chat import formatting
from chat.formatting import html

# Texts someone might send to make a page run their script, each alone.
HOSTILE = [
    "<script>window.pwned = 1</script>",
    "<img src=x onerror=window.pwned=1>",
    '<a href="javascript:window.pwned=1">click</a>',
    "[click](javascript:window.pwned=1)",
    "[click](JaVaScRiPt:window.pwned=1)",
    "[click](vbscript:msgbox)",
    "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cucHduZWQ9MTwvc2NyaXB0Pg==)",
    '<svg onload="window.pwned=1">',
    "<iframe src=https://example.com></iframe>",
    '<div style="background:url(javascript:1)">x</div>',
    "**<b onmouseover=window.pwned=1>bold</b>**",
    "`<script>` in code, and ```\n<script>window.pwned=1</script>\n```",
    "<<script>script>window.pwned=1<</script>/script>",
    '[x](https://example.com "title" onclick=window.pwned=1)',
    "[x](<javascript:window.pwned=1>)",
    "<a href='https://example.com' onclick='window.pwned=1'>x</a>",
    "&lt;script&gt;window.pwned=1&lt;/script&gt;",
    "@<script>x</script> #<img onerror=1>",
    "> " * 500 + "deep",
    "- " * 500 + "deep",
    "*" * 1900 + "emphasis" + "*" * 1900,
    "[" * 1000 + "brackets" + "]" * 1000,
    "**unclosed _broken <b> `code",
]
SAFE_LINKS = ("https://", "http://", "mailto:", "/chat/#")


class Elements(HTMLParser):
    """The elements of an HTML fragment, as (tag, attributes)."""

    def __init__(self, fragment):
        super().__init__()
        self.found = []
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_text_renders_without_a_tag_or_link_that_could_run(text):
    rendered = html(text)
    for tag, attributes in Elements(rendered).found:
        assert tag in formatting.TAGS, rendered
        assert set(attributes) <= formatting.ATTRIBUTES.get(tag, set()) | {"rel"}
        assert attributes.get("href", "https://").startswith(SAFE_LINKS), rendered


@pytest.mark.parametrize(
    "text, rendered",
    [
        ("**bold** and _italics_", "<p><strong>bold</strong> and <em>italics</em></p>"),
        ("`code` and ~~gone~~", "<p><code>code</code> and <s>gone</s></p>"),
        ("```\nx = 1\n```", "<pre><code>x = 1\n</code></pre>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("line\nbreak", "<p>line<br>\nbreak</p>"),
        (
            "[docs](https://example.com/a?b=1)",
            '<p><a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow">'
            "docs</a></p>",
        ),
        (
            "hi @alice.",
            '<p>hi <span class="mention" data-user="alice">@alice</span>.</p>',
        ),
        ("mail a@b.example", "<p>mail a@b.example</p>"),
        (
            "see #design-review",
            '<p>see <a class="room" href="/chat/#design-review" '
            'rel="noopener noreferrer nofollow">#design-review</a></p>',
        ),
        ("# not a heading here", "<p># not a heading here</p>"),
        ("1 < 2 & 3 > 2", "<p>1 &lt; 2 &amp; 3 &gt; 2</p>"),
        ("", ""),
    ],
)
def test_markdown_mentions_and_room_links_render_as_a_chat_shows_them(text, rendered):
    assert html(text) == rendered


def test_a_text_nested_past_the_limit_is_shown_as_typed_not_cut():
    text = "> " * (formatting.MAX_NESTING + 5) + "the point"
    assert html(text).endswith("the point</p>")
    assert "<blockquote>" not in html(text)
