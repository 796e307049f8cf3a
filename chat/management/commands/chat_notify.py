"""The notifier (chat/notifier.py): emails what people missed while away, and
deletes uploads never sent. One or more run beside the workers (compose's
``notifier``); stopping it at any moment sends nothing twice."""

import logging
import signal

from django.core.management.base import BaseCommand

from chat.notifier import Notifier

logger = logging.getLogger("chat.notifier")


class Command(BaseCommand):
    help = "Email away users their missed mentions and direct messages."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rounds", type=int, default=None, help="stop after this many rounds"
        )

    def handle(self, *args, rounds, **options):
        notifier = Notifier()
        # SIGTERM (docker stop) and ^C end it between two emails.
        for stopping in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stopping, lambda *_: notifier.stop())
        logger.info("notifier started")
        notifier.run(rounds)
        logger.info("notifier stopped")
