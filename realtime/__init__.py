"""The real-time layer as the rest of the Django application reaches it:
``publish`` for application code, an HTTP API for other services, revocation
of signed-out users' sockets, and the signals the service sends."""
