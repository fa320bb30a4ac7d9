"""manage.py ratelimit: list, set or remove rate limits (at most N job starts per period for a
queue, a task or a concurrency key)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand
from jobs.models import RateLimit
from jobs.services import rate_limits


class Command(JobdeckCommand):
    help = "List rate limits, or set or remove one: ratelimit set queue default 10 60; ratelimit remove queue default"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "set", "remove"])
        parser.add_argument("scope", nargs="?", choices=RateLimit.Scope.values)
        parser.add_argument("name", nargs="?", help="the queue, the task's module path, or the key")
        parser.add_argument("max_starts", nargs="?", type=int, help="starts allowed per period (set)")
        parser.add_argument("period", nargs="?", type=float, help="the period in seconds (set)")

    def handle(self, *args: Any, **options: Any) -> None:
        action, scope, name = options["action"], options["scope"], options["name"]
        if action == "list":
            for limit in RateLimit.objects.order_by("scope", "name"):
                self.stdout.write(str(limit))
            return
        if scope is None or name is None:
            raise CommandError(f"ratelimit {action} needs a scope and a name")
        try:
            if action == "remove":
                removed = rate_limits.remove_rate_limit(scope=scope, name=name)
                self.stdout.write(f"Removed {scope} {name}" if removed else f"No rate limit for {scope} {name}")
                return
            if options["max_starts"] is None or options["period"] is None:
                raise CommandError("ratelimit set needs max_starts and period")
            limit = rate_limits.set_rate_limit(
                scope=scope, name=name, max_starts=options["max_starts"], period=options["period"]
            )
        except JobdeckError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Set {limit}")
