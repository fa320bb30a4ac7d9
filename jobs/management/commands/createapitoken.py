"""`manage.py createapitoken <user>`: make a REST API token and print its secret (shown only this once)."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from jobs import tokens
from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand


class Command(JobdeckCommand):
    help = "Create an API token for an existing user and print it. Only a hash is stored: save it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the user the token acts as")
        parser.add_argument("--name", default="", help="a label to tell tokens apart (at most 100 characters)")
        parser.add_argument("--read-only", action="store_true", help="the token may read but not change anything")
        parser.add_argument("--quiet", action="store_true", help="print only the secret (for scripts)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token, secret = tokens.create_token(
                username=str(options["username"]),
                name=str(options["name"]),
                read_only=bool(options["read_only"]),
            )
        except JobdeckError as exc:
            raise CommandError(exc.message) from exc
        if options["quiet"]:
            self.stdout.write(secret)
            return
        kind = "read-only token" if token.read_only else "token"
        self.stdout.write(f"Created {kind} {token.prefix}… for {token.user}. It is shown only once:")
        self.stdout.write(secret)
