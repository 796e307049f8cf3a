"""The notifier: a process of its own (``manage.py chat_notify``) that emails
people what they missed while away (chat/away.py), and now and then deletes
uploads never sent (chat/files.py).

Every CHAT_NOTIFY_POLL seconds it takes the users with a notification due,
earliest first. For each, in one transaction, it gathers everything pending
for them, drops what they have read since (or what was deleted), and marks
the rest ``sending``; then it sends one email by Django's email API, marks
them ``sent`` and sends ``missed_messages``. An SMTP server that refuses or
cannot be reached did not take the email: those rows are pending again, for
CHAT_NOTIFY_RETRY seconds later. A notifier killed mid-send leaves rows
``sending``: after CHAT_NOTIFY_LEASE they become ``unconfirmed`` and are not
sent again (at most once: the email may have gone). Several notifiers may
run: on PostgreSQL each takes its users with SKIP LOCKED.
"""

import logging
import smtplib
import threading
from datetime import timedelta
from email.utils import make_msgid
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.utils import timezone

from server.extensions.signals import send_logged_sync

from . import files
from .models import AwayNotification, Event, Preferences, ReadState
from .signals import missed_messages

logger = logging.getLogger(__name__)

# Users whose emails one round sends before it looks at the leases again.
USERS_PER_ROUND = 100
# Messages listed in one email; the rest are counted ("and 12 more").
LISTED = 20
# Characters of a message's text quoted in an email.
QUOTED = 300
PRUNE_EVERY = timedelta(hours=1)


class Notifier:
    def __init__(self):
        self.pruned = None
        # Set by stop(): the notifier ends between two emails, never in one.
        self.stopping = threading.Event()

    def stop(self):
        self.stopping.set()

    def run(self, rounds=None):
        """Go round until stopped (or ``rounds`` times)."""
        done = 0
        while not self.stopping.is_set() and (rounds is None or done < rounds):
            sent = self.round()
            done += 1
            if not sent:
                self.stopping.wait(settings.CHAT_NOTIFY_POLL)

    def round(self):
        """One pass: leases, due emails, and the hourly prune; emails sent."""
        now = timezone.now()
        lapsed()
        sent = 0
        for user_id in due_users(now):
            if self.stopping.is_set():
                break
            sent += deliver(user_id)
        if self.pruned is None or now - self.pruned > PRUNE_EVERY:
            self.pruned = now
            pruned = files.prune_unsent()
            if pruned:
                logger.info("deleted %d uploads never sent", pruned)
        return sent


def lapsed():
    """Rows left ``sending`` by a notifier that stopped: unconfirmed, never resent."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_NOTIFY_LEASE)
    stale = AwayNotification.objects.filter(
        state=AwayNotification.SENDING, claimed__lt=cutoff
    )
    count = stale.update(state=AwayNotification.UNCONFIRMED)
    if count:
        logger.warning(
            "%d notifications unconfirmed: a notifier stopped while sending their"
            " email, which may have gone; they are not sent again",
            count,
        )


def due_users(now):
    pending = AwayNotification.objects.filter(
        state=AwayNotification.PENDING, due__lte=now
    )
    ordered = (
        pending.values("user_id")
        .annotate(first=Min("due"))
        .order_by("first", "user_id")
    )
    return [row["user_id"] for row in ordered[:USERS_PER_ROUND]]


def deliver(user_id):
    """Email ``user_id`` everything pending for them; 1 if an email went."""
    user = get_user_model().objects.filter(pk=user_id).first()
    items, email_id = claim(user_id)
    if not items:
        return 0
    wants = (
        Preferences.objects.filter(user_id=user_id)
        .values_list("email_when_away", flat=True)
        .first()
    )
    emailed = wants is not False and bool(user.email)
    claimed = AwayNotification.objects.filter(
        user_id=user_id, state=AwayNotification.SENDING, email_id=email_id
    )
    if not emailed:
        claimed.update(state=AwayNotification.DROPPED)
        send_logged_sync(missed_messages, user_id=user_id, messages=items, email=False)
        return 0
    try:
        email(user, items, email_id).send()
    except (smtplib.SMTPException, OSError) as error:
        retry = timezone.now() + timedelta(seconds=settings.CHAT_NOTIFY_RETRY)
        claimed.update(state=AwayNotification.PENDING, due=retry, claimed=None)
        logger.warning(
            "could not email user %s (%r); trying again later", user_id, error
        )
        return 0
    claimed.update(state=AwayNotification.SENT)
    # Once per batch: a batch tried again is heard of when it goes.
    send_logged_sync(missed_messages, user_id=user_id, messages=items, email=True)
    return 1


def claim(user_id):
    """Everything pending for ``user_id`` that they have not read, marked
    ``sending`` under one Message-ID, as the email lists it; the rest dropped."""
    email_id = make_msgid(domain=settings.CHAT_NOTIFY_DOMAIN)
    with transaction.atomic():
        pending = AwayNotification.objects.filter(
            user_id=user_id, state=AwayNotification.PENDING
        ).select_related("room")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True, of=("self",))
        rows = list(pending.order_by("created", "seq"))
        if not rows:
            return [], email_id
        read = dict(
            ReadState.objects.filter(
                user_id=user_id, room__in={r.room_id for r in rows}
            ).values_list("room_id", "seq")
        )
        messages = live_messages(rows)
        keep, drop = [], []
        for row in rows:
            message = messages.get((row.room_id, row.seq))
            unread = row.seq > read.get(row.room_id, 0)
            (keep if message is not None and unread else drop).append(row)
        AwayNotification.objects.filter(pk__in=[r.pk for r in drop]).update(
            state=AwayNotification.DROPPED
        )
        AwayNotification.objects.filter(pk__in=[r.pk for r in keep]).update(
            state=AwayNotification.SENDING, claimed=timezone.now(), email_id=email_id
        )
    return [item(row, messages[(row.room_id, row.seq)]) for row in keep], email_id


def live_messages(rows):
    """(room id, seq) -> the live message, for the rows' messages."""
    found = {}
    for room_id in {r.room_id for r in rows}:
        seqs = [r.seq for r in rows if r.room_id == room_id]
        for message in Event.objects.filter(
            room_id=room_id, seq__in=seqs, kind=Event.MESSAGE, deleted=False
        ):
            found[(room_id, message.seq)] = message
    return found


def item(row, message):
    link = f"{settings.SITE_URL}/chat/#room={quote(row.room.name)}&id={row.seq}"
    if message.thread is not None:
        link += f"&thread={message.thread}"
    text = message.text if len(message.text) <= QUOTED else message.text[:QUOTED] + "…"
    return {
        "room": row.room.name,
        "id": row.seq,
        "reason": row.reason,
        "author": message.author,
        "text": text,
        "ts": message.ts,
        "url": link,
    }


def email(user, items, email_id):
    direct = [i for i in items if i["reason"] == AwayNotification.DIRECT]
    authors = sorted({i["author"] for i in items})
    if len(items) == 1 and direct:
        subject = f"{items[0]['author']} sent you a message"
    elif len(items) == 1:
        subject = f"{items[0]['author']} mentioned you in #{items[0]['room']}"
    else:
        subject = f"{len(items)} messages for you from {', '.join(authors[:3])}"
        if len(authors) > 3:
            subject += " and others"
    context = {
        "user": user,
        "items": items[:LISTED],
        "more": max(0, len(items) - LISTED),
        "site": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("chat/away_email.txt", context),
        to=[user.email],
        headers={"Message-ID": email_id},
    )
    message.attach_alternative(
        render_to_string("chat/away_email.html", context), "text/html"
    )
    return message
