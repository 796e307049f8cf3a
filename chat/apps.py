from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Instant messaging: rooms, history, presence, typing, direct messages."""

    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
