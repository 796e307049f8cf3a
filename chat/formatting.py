"""A chat text as formatted HTML, rendered once when it is stored (or edited)
and kept beside its source: Markdown (CommonMark: bold, italics, code, code
blocks, quotes, lists, links; and ~~strikethrough~~), ``@name`` mentions and
``#room`` links, then an allow-list sanitiser over the result.

Two locks, either enough alone: the parser takes no HTML from the text (a
``<script>`` typed is shown as text) and refuses ``javascript:`` and other
unsafe links; then nh3 (ammonia) keeps only the tags and attributes below and
http, https and mailto links. The page inserts only this HTML, under a CSP
that runs no inline script (server/operations/middleware/csp.py).
"""

from html import escape

import nh3
from markdown_it import MarkdownIt

from . import protocol

TAGS = {
    "p", "br", "strong", "em", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "span",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "class"},
    "span": {"class", "data-user"},
    "ol": {"start"},
}
# A chat line is no document: headings, rules, images and tables stay text.
NOT_IN_CHAT = ["heading", "lheading", "hr", "image", "table"]
# A text nested deeper than this (quotes, lists, emphasis) is shown as it was
# typed: ten levels is more than a reply chain shows, each level indents the
# message, and the parser would drop what lies past its limit.
MAX_NESTING = 10


def mention(state, silent):
    """``@name`` (not inside a word or an address) and ``#room``."""
    start, text = state.pos, state.src
    if text[start] not in "@#" or (start and inside_a_word(text[start - 1])):
        return False
    pattern = protocol.USER_NAME if text[start] == "@" else protocol.ROOM_NAME
    found = pattern.match(text, start + 1)
    if found is None:
        return False
    name = found.group().rstrip(".")
    if not silent:
        token = state.push("mention" if text[start] == "@" else "room_link", "", 0)
        token.content = name
    state.pos = start + 1 + len(name)
    return True


def inside_a_word(before):
    return before.isalnum() or before in "@.#_-"


def render_mention(renderer, tokens, index, options, env):
    name = tokens[index].content
    return f'<span class="mention" data-user="{name}">@{name}</span>'


def render_room_link(renderer, tokens, index, options, env):
    name = tokens[index].content
    return f'<a class="room" href="/chat/#{name}">#{name}</a>'


markdown = (
    MarkdownIt(
        "commonmark", {"html": False, "breaks": True, "maxNesting": MAX_NESTING + 1}
    )
    .enable("strikethrough")
    .disable(NOT_IN_CHAT)
)
markdown.inline.ruler.before("emphasis", "mention", mention)
markdown.add_render_rule("mention", render_mention)
markdown.add_render_rule("room_link", render_room_link)


def too_deep(tokens):
    for token in tokens:
        if token.level >= MAX_NESTING or too_deep(token.children or ()):
            return True
    return False


def html(text):
    """The sanitised HTML of a chat text ("" for none)."""
    if not text:
        return ""
    tokens = markdown.parse(text)
    if too_deep(tokens):
        return "<p>" + escape(text).replace("\n", "<br>\n") + "</p>"
    return nh3.clean(
        markdown.renderer.render(tokens, markdown.options, {}).strip(),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
