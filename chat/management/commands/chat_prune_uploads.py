"""Delete uploads that no message named within CHAT_UPLOAD_UNSENT_HOURS: a
file picked and never sent, or left by a page closed mid-message. Run it
from cron, or as the compose file's notifier does, now and then."""

from django.core.management.base import BaseCommand

from chat import files


class Command(BaseCommand):
    help = "Delete uploads no message named within CHAT_UPLOAD_UNSENT_HOURS."

    def handle(self, *args, **options):
        self.stdout.write(f"{files.prune_unsent()} unsent uploads deleted")
