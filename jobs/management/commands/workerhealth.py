"""`manage.py workerhealth [--name NAME]`: a worker liveness probe (Kubernetes exec probe, systemd timer).

Exit 0 when the named worker, or else a worker on this host, is alive by the one rule the dashboard,
the API and the rescuer use (a heartbeat within a lease, on the database clock); exit 1 with one
line saying why when it is not (none registered, stopped, silent); exit 3 when the database does not
answer, so a caller that can tell the two apart need not restart a worker for a database outage.
"""

from __future__ import annotations

import socket
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from jobs import selectors
from jobs.management.base import JobdeckCommand
from jobs.management.commands.runworkers import worker_name

DATABASE_DOWN = 3  # 2 is argparse's, for a bad option


class Command(JobdeckCommand):
    help = "Exit 0 if this host's worker (or the named one) is alive, else non-zero with the reason."
    # A probe runs every few seconds; the system checks ran when the worker started.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name",
            type=worker_name,
            help="the worker's name (runworkers --name); default: any worker on this host",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            liveness = selectors.worker_liveness(name=options["name"], host=socket.gethostname())
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CommandError(f"database unreachable: {first_line}", returncode=DATABASE_DOWN) from exc
        if not liveness.alive:
            raise CommandError(liveness.reason)
        self.stdout.write(liveness.reason)
