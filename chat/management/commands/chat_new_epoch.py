"""Give rooms a new epoch: run it after restoring the database from a backup,
so that clients holding ids from the lost history reload instead of merging
two histories under the same ids."""

from django.core.management.base import BaseCommand

from chat.models import Room, new_epoch


class Command(BaseCommand):
    help = "Give every room (or the rooms named) a new epoch; clients resuming reload."

    def add_arguments(self, parser):
        parser.add_argument("rooms", nargs="*", help="room names; none: every room")

    def handle(self, *args, rooms, **options):
        found = Room.objects.all()
        if rooms:
            found = found.filter(name__in=rooms)
        count = 0
        for room in found.only("pk").iterator():
            Room.objects.filter(pk=room.pk).update(epoch=new_epoch())
            count += 1
        self.stdout.write(f"{count} rooms have a new epoch")
