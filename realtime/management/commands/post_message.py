from django.core.management.base import BaseCommand, CommandError

from chat.protocol import ProtocolError
from realtime import publish


class Command(BaseCommand):
    help = (
        "Post a message into a chat room, stored and delivered as a client's: "
        "as a user (--user) or as the system. Prints the stored message's id."
    )

    def add_arguments(self, parser):
        parser.add_argument("room")
        parser.add_argument("text")
        parser.add_argument("--user", help="the author's username (default: system)")
        parser.add_argument(
            "--idempotency-key", help="a key posted before stores nothing new"
        )

    def handle(self, room, text, user, idempotency_key, **options):
        author = None
        if user is not None:
            from django.contrib.auth import get_user_model

            author = get_user_model().objects.filter(username=user).first()
            if author is None:
                raise CommandError(f"no user named {user!r}")
        try:
            posted = publish.post_message(room, text, author, idempotency_key)
        except ProtocolError as error:
            raise CommandError(f"{error.error.code}: {error.detail}") from None
        state = "posted" if posted.new else "already posted"
        self.stdout.write(f"{state}: {room} #{posted.message['id']}")
