"""`manage.py jobstats`: job counts per queue and state, the oldest waiting job's age, queue settings."""

import json
from typing import Any

from django.core.management.base import CommandParser

from jobs import selectors
from jobs.management.base import JobdeckCommand
from jobs.management.tables import humanise_age, render_table
from jobs.status import Status

# Queue names are letters, digits and _.:- only, so this label cannot be mistaken for a queue.
TOTALS_LABEL = "(all queues)"


def notes(stats: selectors.QueueStats) -> str:
    marks = ["paused"] if stats.paused else []
    if stats.concurrency is not None:
        marks.append(f"limit {stats.concurrency}")
    if stats.max_depth is not None:
        marks.append(f"depth {stats.depth}/{stats.max_depth}" + (" (blocks)" if stats.overflow == "block" else ""))
    if stats.refused:
        marks.append(f"{stats.refused} refused")
    return ", ".join(marks)


def oldest(seconds: float | None) -> str:
    return "-" if seconds is None else humanise_age(seconds)


class Command(JobdeckCommand):
    help = "Show job counts per queue and state, the oldest waiting job's age, and paused/limited queues."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON: {queues: {name: ...}, totals: ...}")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = selectors.queue_stats()
        counts = {s.value: sum(q.counts[s.value] for q in stats.values()) for s in Status}
        waits = [q.oldest_waiting_seconds for q in stats.values() if q.oldest_waiting_seconds is not None]
        oldest_waiting = max(waits) if waits else None
        if options["json"]:
            self.stdout.write(json.dumps(self.as_json(stats, counts, oldest_waiting), indent=2))
        elif not stats:
            self.stdout.write("No jobs.")
        else:
            header = ("QUEUE", *(s.value.upper() for s in Status), "TOTAL", "OLDEST WAITING", "NOTES")
            rows = [
                (
                    name,
                    *(str(q.counts[s.value]) for s in Status),
                    str(q.total),
                    oldest(q.oldest_waiting_seconds),
                    notes(q),
                )
                for name, q in stats.items()
            ]
            rows.append(
                (
                    TOTALS_LABEL,
                    *(str(n) for n in counts.values()),
                    str(sum(counts.values())),
                    oldest(oldest_waiting),
                    "",
                )
            )
            self.stdout.write(render_table(header, rows, right=frozenset(range(1, len(header) - 1))))

    @staticmethod
    def as_json(
        stats: dict[str, selectors.QueueStats], counts: dict[str, int], oldest_waiting: float | None
    ) -> dict[str, Any]:
        # Queues sit under their own key: "totals" is itself a valid queue name.
        return {
            "queues": {
                name: {
                    "counts": q.counts,
                    "total": q.total,
                    "oldest_waiting_seconds": q.oldest_waiting_seconds,
                    "paused": q.paused,
                    "concurrency": q.concurrency,
                    "max_depth": q.max_depth,
                    "depth": q.depth,
                    "refused": q.refused,
                }
                for name, q in stats.items()
            },
            "totals": {"counts": counts, "total": sum(counts.values()), "oldest_waiting_seconds": oldest_waiting},
        }
