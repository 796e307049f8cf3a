import os

from django.core.management.base import BaseCommand, CommandError

from project import environment as env
from server.transport.launcher.workers import Workers, daphne_command, endpoint


class Command(BaseCommand):
    help = (
        "Serve the ASGI application on daphne: one worker (exec daphne) or "
        "several sharing one address. Defaults come from HOST, PORT, WEB_WORKERS."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=env.text("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=env.integer("PORT", 8000))
        parser.add_argument(
            "--workers", type=int, default=env.integer("WEB_WORKERS", 1, minimum=1)
        )
        parser.add_argument(
            "daphne_args",
            nargs="*",
            help="passed to every daphne worker (put them after --)",
        )

    def handle(self, host, port, workers, daphne_args, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(
            f"listening on http://{shown}:{port}/ with {workers} daphne "
            f"worker{'s' if workers > 1 else ''}"
        )
        self.stdout.flush()
        if workers == 1:
            command = daphne_command(endpoint(host, port), daphne_args)
            os.execv(command[0], command)
        raise SystemExit(Workers(host, port, workers, daphne_args).run())
