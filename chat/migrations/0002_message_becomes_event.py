from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):
    """A room's history holds changes as well as messages: Message is Event."""

    dependencies = [
        ("chat", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RenameModel("Message", "Event")]
