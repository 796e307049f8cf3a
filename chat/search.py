"""Search over the messages of the rooms a user may read.

A query is words and "quoted phrases", with the filters ``from:name``,
``in:room``, ``before:YYYY-MM-DD`` and ``after:YYYY-MM-DD``. On PostgreSQL
the words go to full-text search (``websearch_to_tsquery``, English
stemming) over the stored ``search_vector`` column of migration 0006 and
its GIN index of live messages: an edit replaces the text it is made from,
and a deletion empties it. On
SQLite each word and phrase is a case-insensitive substring match, with no
stemming (documented in docs/chat-protocol.md).

Results come newest first, ``CHAT_SEARCH_PAGE`` at a time; ``next`` is the
cursor of the following page (the last result's row id), so a page does not
shift as messages arrive. Each result's ``highlight`` is its text, escaped,
with the matches in ``<mark>``.
"""

import re
from datetime import UTC, datetime, time

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchVectorField,
)
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.html import escape

from . import protocol
from .models import Event, Membership, Room
from .protocol import ProtocolError

# One term: a filter (name:value), a "phrase", or a word.
TERM = re.compile(r'(from|in|before|after):(\S+)|"([^"]*)"?|(\S+)')
# ts_headline's marks around a match: private-use characters, which the
# escaped text cannot turn into markup of its own.
START, STOP = "\ue000", "\ue001"
CONFIG = "english"
# Well above the rows PostgreSQL expects a phrase to match (0.5% of a million
# messages, as it estimates an ordinary word), and still a page of ids.
PHRASE_FENCE = 10_000


def search(user, query, cursor, limit):
    """The ``search`` reply for ``user``'s ``query``."""
    words, filters = parse(query)
    if not words and not filters:
        raise ProtocolError(protocol.INVALID_FIELD, "search for a word or a filter")
    found = Event.objects.filter(
        kind=Event.MESSAGE, deleted=False, room__in=readable_rooms(user)
    )
    if "from" in filters:
        found = found.filter(author=filters["from"])
    if "in" in filters:
        found = found.filter(room__name=filters["in"])
    if "after" in filters:
        found = found.filter(created__gte=day(filters["after"], time.max))
    if "before" in filters:
        found = found.filter(created__lt=day(filters["before"], time.min))
    if cursor is not None:
        found = found.filter(pk__lt=cursor)
    postgres = connection.vendor == "postgresql" and words
    if postgres:
        terms = " ".join(f'"{w}"' if " " in w else w for w in words)
        wanted = SearchQuery(terms, search_type="websearch", config=CONFIG)
        found = found.annotate(
            document=RawSQL("chat_event.search_vector", [], SearchVectorField())
        ).filter(document=wanted)
        if any(" " in w for w in words):
            found = phrase_fenced(found, limit)
        found = found.annotate(
            marked=SearchHeadline(
                "text",
                wanted,
                config=CONFIG,
                start_sel=START,
                stop_sel=STOP,
                highlight_all=True,
            ),
        )
    else:
        for word in words:
            found = found.filter(text__icontains=word)
    page = list(found.select_related("room").order_by("-pk")[: limit + 1])
    results = [
        result(m, marked_html(m.marked) if postgres else mark(m.text, words))
        for m in page[:limit]
    ]
    return {
        "type": "search",
        "query": query,
        "results": results,
        "next": page[limit - 1].pk if len(page) > limit else None,
    }


def phrase_fenced(found, limit):
    """The matches of a query with a phrase, asked of the GIN index first.
    PostgreSQL estimates a phrase as often as its words, so asked for the
    newest 21 it walks the messages backwards testing each (349,000 of a
    million for a phrase in one message in 1,500); asked for more rows than
    it expects, it takes them from the index and sorts them. The newest
    PHRASE_FENCE ids come back, and the page is the first of them."""
    newest = found.order_by("-pk").values_list("pk", flat=True)[:PHRASE_FENCE]
    return Event.objects.filter(pk__in=list(newest)[: limit + 1])


def parse(query):
    """(words and phrases, {filter: value}) of a query."""
    words, filters = [], {}
    for name, value, phrase, word in TERM.findall(query):
        if name:
            filters[name] = value.lstrip("#@")
        elif phrase.strip():
            words.append(" ".join(phrase.split()))
        elif word:
            words.append(word)
    return words, filters


def day(text, at):
    try:
        date = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ProtocolError(protocol.INVALID_FIELD, "dates are YYYY-MM-DD") from None
    return datetime.combine(date, at, tzinfo=UTC)


def readable_rooms(user):
    """The rooms ``user`` may read: public ones they are not banned from,
    and private ones (direct ones too) they are a member of."""
    if not user.is_authenticated:
        return Room.objects.filter(private=False)
    held = Membership.objects.filter(user=user)
    return Room.objects.filter(
        Q(private=False) | Q(pk__in=held.filter(banned=False).values("room"))
    ).exclude(pk__in=held.filter(banned=True).values("room"))


def mark(text, words):
    """``text`` escaped, with each case-insensitive match of ``words`` marked
    (SQLite's search, which has no ts_headline)."""
    if not words:
        return escape(text)
    either = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pieces = re.split(f"({either})", text, flags=re.IGNORECASE)
    return "".join(
        f"<mark>{escape(p)}</mark>" if i % 2 else escape(p)
        for i, p in enumerate(pieces)
    )


def marked_html(headline):
    """ts_headline's text escaped, its marks made ``<mark>``, always closed."""
    out, inside = [], False
    for piece in re.split(f"([{START}{STOP}])", headline):
        if piece == START and not inside:
            out.append("<mark>")
            inside = True
        elif piece == STOP and inside:
            out.append("</mark>")
            inside = False
        elif piece not in (START, STOP):
            out.append(escape(piece))
    return "".join(out) + ("</mark>" if inside else "")


def result(message, highlighted):
    wire = message.wire(message.room.name)
    return {
        "room": wire["room"],
        "id": wire["id"],
        "author": wire["author"],
        "ts": wire["ts"],
        "text": wire["text"],
        "reply_to": wire["reply_to"],
        "highlight": highlighted,
    }
