from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Publishing from application code and other services; revocation."""

    name = "realtime"

    def ready(self):
        from . import revocation

        revocation.connect()
