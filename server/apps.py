from django.apps import AppConfig


class ServerConfig(AppConfig):
    """How the service is served: daphne's protocol, origin policy, the launcher."""

    name = "server"
