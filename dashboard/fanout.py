"""The one tailer per web process: new JobEvent rows, read by id, become coalesced page updates on channel groups.

1. The first consumer to join starts the tailer on the event loop; it stops when the last one leaves.
2. It waits for a change: a NOTIFY on PostgreSQL's jobdeck_jobs channel (sent when jobs become
   runnable), else a short probe (JOBDECK_LIVE_PROBE_SECONDS, 0.1 s): a primary-key range read of
   the events after its cursor, so its cost does not depend on the table's size.
3. Once per tick it computes, for all viewers at once: the rows of the jobs that changed and that an
   open jobs page shows (every one of them, however many jobs changed: the work is bounded by what
   the pages show), the newest new jobs for the tops of newest-first pages, the state counts and
   the overview with its charts (each at most once a second; the overview also every few seconds
   for worker heartbeats), and the live region of each job someone
   is watching (also when its progress or log lines move, which write no events).
4. It hands at most one message per group per tick to the group's consumers, smallest groups
   first (each message's frame text, the page's cursor element included, is built once: a consumer
   sends it as it is, or for a jobs page picks its rows out of it), then starts the next tick
   JOBDECK_LIVE_INTERVAL_SECONDS (0.15 s) after this one started: a page gets a few updates a
   second however busy the queues are, and a viewer costs no query of its own.

A group here is this process's set of consumers showing one page (the overview, the jobs lists,
one job): every web process runs its own tailer for its own viewers, so a tick's messages never
leave the process. They are handed to the consumers directly rather than through the channel
layer, which would copy each message once per viewer (the in-memory layer deep-copies it) or
send it through Redis and back; with hundreds of viewers that copying was most of a tick's cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import close_old_connections, connection

from dashboard import charts, fragments
from jobs import listing, selectors
from jobs.conf import read_setting
from jobs.database import LISTEN_SQL, is_postgres, listen_connection_kwargs

logger = logging.getLogger(__name__)

MAX_EVENTS = 20_000  # events read per tick: a slow tick catches up at once (its cost is in what pages show)
# On PostgreSQL a transaction can take an event id and commit after one that took a later id: the
# cursor has then moved past it. Ids the cursor skipped are looked for again for GAP_SECONDS (a
# rolled-back transaction's id never appears, so they cannot be awaited forever).
GAP_SECONDS = 5.0
MAX_GAPS = 10_000
MAX_NEW_ROWS = 100  # rows of jobs no page shows yet, rendered per tick for the tops of the lists (newest first)
SLOW_INTERVAL = 1.0  # seconds between two counts or overview computations
OVERVIEW_REFRESH = 5.0  # overview recomputed this often even without events (heartbeats, ages)
MESSAGE_TYPE = "jobs.changed"  # consumers handle it in jobs_changed()
YIELD_EVERY = 50  # consumers served before the event loop gets a turn (handshakes, HTTP requests)


def overview_group() -> str:
    return "jobs.overview"


def list_group() -> str:
    return "jobs.list"


def job_group(job_id: int) -> str:
    return f"jobs.job.{job_id}"


class Receiver(Protocol):
    """A consumer the fanout hands its groups' messages to."""

    async def jobs_changed(self, event: dict[str, Any]) -> None: ...


@dataclass
class ListView:
    """What one open jobs page shows: the ids of its rows, and whether new jobs matching its `filters`
    (ids above `top_id`) go on its top. Its consumer keeps it current; the fanout reads every open
    page's view each tick."""

    shown: set[int]
    top_id: int
    takes_new: bool
    filters: listing.JobFilters = field(default_factory=listing.JobFilters)


@dataclass(frozen=True)
class Interest:
    """Who is watching, as one tick sees it."""

    overview: bool
    lists: bool
    watched: tuple[int, ...]
    overview_wanted: bool  # a viewer joined and needs a snapshot
    shown: frozenset[int] = frozenset()  # the rows the open jobs pages show
    new_for: tuple[tuple[int, listing.JobFilters], ...] = ()  # (top id, filters) of each page taking new jobs
    # (job id, variant) of each watched job's viewers; a watched job missing here gets every variant
    variants: frozenset[tuple[int, str]] = frozenset()


def rows_to_render(
    changed: list[int], *, shown: frozenset[int] | set[int], new_for: tuple[tuple[int, listing.JobFilters], ...]
) -> tuple[list[int], bool]:
    """Of the jobs that changed, the ones to render: every row a page shows, and the newest
    MAX_NEW_ROWS that no page shows yet and that would go on top of a page taking new jobs (above its
    top row, matching its filters: one read of those jobs' keys). Returns (job ids, whether new jobs
    were left out).
    """
    on_screen = [job_id for job_id in changed if job_id in shown]
    # Pages with the same filters differ only in their top row: a job goes on top of one of them if it
    # is above the lowest of their tops. Checked per distinct filters (a handful), not per page (hundreds,
    # each opened at its own top): with 500 viewers that check per page was most of a tick.
    lowest: dict[listing.JobFilters, int] = {}
    for top, filters in new_for:
        lowest[filters] = min(top, lowest.get(filters, top))
    if not lowest:
        return on_screen, False
    lowest_top = min(lowest.values())
    candidates = [job_id for job_id in changed if job_id > lowest_top and job_id not in shown]
    fresh = (
        [
            job.pk
            for job in selectors.jobs_by_id(candidates, fields=NEW_ROW_KEYS)  # newest first
            if any(job.pk > top and _matches(filters, job) for filters, top in lowest.items())
        ]
        if candidates
        else []
    )
    return on_screen + fresh[:MAX_NEW_ROWS], len(fresh) > MAX_NEW_ROWS


NEW_ROW_KEYS = ("id", "status", "queue", "task_name", "priority")


def _matches(filters: listing.JobFilters, job: Any) -> bool:
    return filters.matches(job_id=job.pk, status=job.status, queue=job.queue, task=job.task_name, priority=job.priority)


class Tailer:
    """The tick's state (cursors, last progress, timers). Used only from the tailer's own thread."""

    def __init__(self) -> None:
        self.cursor = selectors.last_event_id()
        self.log_cursor = selectors.last_log_id()
        self.progress: dict[int, tuple[str, float | None, str]] = {}
        self.counts_due = False
        self.counts_at = 0.0
        self.overview_due = False
        self.overview_at = 0.0
        self.saw_changes = False  # the last tick found events, log lines or progress: pace the next one
        self.gaps: dict[int, float] = {}  # event ids the cursor skipped, and when

    def step(self, interest: Interest) -> list[tuple[str, dict[str, Any]]]:
        """One tick on the tailer's thread, first dropping a connection the database broke or aged out."""
        close_old_connections()
        return self.tick(interest)

    def tick(self, interest: Interest) -> list[tuple[str, dict[str, Any]]]:
        """Read what changed since the last tick; return (group, message) pairs to send."""
        now = time.monotonic()
        messages: list[tuple[str, dict[str, Any]]] = []
        events = selectors.events_after(self.cursor, limit=MAX_EVENTS)
        late = self._late_events(events, now)
        changed: dict[int, None] = {}
        self.saw_changes = bool(events or late)
        if events:
            self.cursor = events[-1][0]
        if events or late:
            for _, job_id in reversed(late + events):  # newest first
                changed.setdefault(job_id)
            self.counts_due = self.overview_due = True
        if interest.overview_wanted:
            self.overview_due = True

        if interest.lists:
            # The cursor's element is rendered here once, not by each of the consumers (see deliver()).
            message: dict[str, Any] = {
                "type": MESSAGE_TYPE,
                "cursor": self.cursor,
                "cursor_html": fragments.cursor_html(self.cursor),
            }
            ids, more_new = rows_to_render(list(changed), shown=interest.shown, new_for=interest.new_for)
            if ids:
                message["rows"] = fragments.changed_rows(ids)
            if more_new:
                message["more_new"] = True
            if self.counts_due and now - self.counts_at >= SLOW_INTERVAL:
                # Capped like the page's tabs: each state reads at most cap + 1 index entries. The newest
                # job id, read first, is the snapshot "select all N matching" moves to with its N.
                upto = selectors.last_job_id()
                counts = listing.state_counts(listing.JobFilters())
                message["counts"] = fragments.counts_html(counts)
                message["count_values"], message["upto"] = counts, upto
                self.counts_due, self.counts_at = False, now
            if len(message) > 3:
                messages.append((list_group(), message))

        overview_stale = self.overview_due or now - self.overview_at >= OVERVIEW_REFRESH
        if interest.overview and overview_stale and now - self.overview_at >= SLOW_INTERVAL:
            # The chart reads events up to this tick's cursor, like a page rendered at it.
            context = {**fragments.overview_context(), **charts.overview_charts(last_event_id=self.cursor)}
            html = fragments.overview_html(context) + fragments.cursor_html(self.cursor)
            messages.append((overview_group(), {"type": MESSAGE_TYPE, "cursor": self.cursor, "html": html}))
            self.overview_due, self.overview_at = False, now

        if interest.watched:
            messages += self._watched(interest.watched, changed, interest.variants)
        return messages

    def _late_events(self, events: list[tuple[int, int]], now: float) -> list[tuple[int, int]]:
        """Events that committed after later ones: the ids `events` skip past the cursor, read again
        for GAP_SECONDS. One query by primary key while there are any."""
        if events and events[-1][0] - self.cursor - len(events) <= MAX_GAPS - len(self.gaps):
            seen = {event_id for event_id, _ in events}
            self.gaps.update((i, now) for i in range(self.cursor + 1, events[-1][0]) if i not in seen)
        if not self.gaps:
            return []
        found = selectors.events_by_id(list(self.gaps))
        for event_id, _ in found:
            del self.gaps[event_id]
        self.gaps = {event_id: at for event_id, at in self.gaps.items() if now - at < GAP_SECONDS}
        return found

    def _watched(
        self, watched: tuple[int, ...], changed: dict[int, None], variants: frozenset[tuple[int, str]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Live regions of the watched jobs that moved: an event, their progress, or new log lines."""
        moved = {job_id for job_id in watched if job_id in changed}
        logs = selectors.logs_after(self.log_cursor, job_ids=list(watched), limit=MAX_EVENTS)
        if logs:
            self.log_cursor = logs[-1][0]
            moved.update(job_id for _, job_id in logs)
        for job_id, state in selectors.job_progress(list(watched)).items():
            if job_id in self.progress and self.progress[job_id] != state:
                moved.add(job_id)
            self.progress[job_id] = state  # a newly watched job got its snapshot when it connected
        for job_id in [j for j in self.progress if j not in watched]:
            del self.progress[job_id]
        self.saw_changes = self.saw_changes or bool(moved)
        messages = []
        contexts = fragments.job_contexts(sorted(moved))  # a job pruned while watched is left out
        for job_id, context in contexts.items():
            # Only the variants someone watches: rendering the region is most of a job page's cost.
            wanted = tuple(v for v in fragments.VARIANTS if (job_id, v) in variants) or fragments.VARIANTS
            html = fragments.live_variants(context, wanted, cursor=self.cursor)
            messages.append((job_group(job_id), {"type": MESSAGE_TYPE, "cursor": self.cursor, "html": html}))
        return messages

    def close(self) -> None:
        connection.close()


class Fanout:
    """This process's viewers, and the tailer task that serves them."""

    def __init__(self) -> None:
        self.pages: Counter[str] = Counter()
        self.watched: Counter[int] = Counter()
        self.variants: Counter[tuple[int, str]] = Counter()  # (watched job, the variant its viewer gets)
        self.views: dict[int, ListView] = {}  # the open jobs pages' views, by id()
        self.receivers: dict[str, set[Receiver]] = {}  # each group's consumers
        self.overview_wanted = False
        self.task: asyncio.Task[None] | None = None
        self.started: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def join(
        self,
        page: str,
        job_id: int | None = None,
        view: ListView | None = None,
        *,
        receiver: Receiver | None = None,
        groups: Iterable[str] = (),
        variant: str = "",
    ) -> None:
        """Count a viewer of `page` ("overview", "jobs" with its `view`, or "job" with `job_id`) whose
        `receiver` gets the messages of `groups` (a job page: its `variant`, see fragments.VARIANTS);
        start the tailer if needed.

        Returns once the tailer has read its starting cursor: every event after that reaches the
        viewer's groups, so a catch-up read made after join() leaves no gap.
        """
        self.pages[page] += 1
        if job_id is not None:
            self.watched[job_id] += 1
            if variant:
                self.variants[job_id, variant] += 1
        if view is not None:
            self.views[id(view)] = view
        if receiver is not None:
            for group in groups:
                self.receivers.setdefault(group, set()).add(receiver)
        if page == "overview":
            self.overview_wanted = True
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop = loop
            self.started = loop.create_future()
            self.task = loop.create_task(self._run(self.started), name="jobdeck-fanout")
        assert self.started is not None  # set with the task
        await asyncio.shield(self.started)

    async def leave(
        self,
        page: str,
        job_id: int | None = None,
        view: ListView | None = None,
        *,
        receiver: Receiver | None = None,
        groups: Iterable[str] = (),
        variant: str = "",
    ) -> None:
        """Forget a viewer; the last one to leave stops the tailer (and waits for it to close)."""
        self.pages[page] -= 1
        if job_id is not None:
            self.watched[job_id] -= 1
            if variant:
                self.variants[job_id, variant] -= 1
        if view is not None:
            self.views.pop(id(view), None)
        if receiver is not None:
            for group in groups:
                members = self.receivers.get(group, set())
                members.discard(receiver)
                if not members:
                    self.receivers.pop(group, None)
        self.pages += Counter()  # drop counts that reached zero
        self.watched += Counter()
        self.variants += Counter()
        if not self.pages and self.task is not None and self.loop is asyncio.get_running_loop():
            task, self.task = self.task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _interest(self) -> Interest:
        wanted, self.overview_wanted = self.overview_wanted, False
        views = list(self.views.values())
        return Interest(
            overview=self.pages["overview"] > 0,
            lists=self.pages["jobs"] > 0,
            watched=tuple(sorted(self.watched)),
            overview_wanted=wanted,
            shown=frozenset().union(*(view.shown for view in views)),
            new_for=tuple({(view.top_id, view.filters) for view in views if view.takes_new}),
            variants=frozenset(self.variants),
        )

    async def _run(self, started: asyncio.Future[None]) -> None:
        probe = read_setting("JOBDECK_LIVE_PROBE_SECONDS", 0.1)
        interval = read_setting("JOBDECK_LIVE_INTERVAL_SECONDS", 0.15)
        loop = asyncio.get_running_loop()
        # One thread, so the tailer holds one database connection for as long as it runs.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobdeck-fanout")
        listener = None
        tailer: Tailer | None = None
        try:
            try:
                tailer = await loop.run_in_executor(executor, Tailer)
            except BaseException as exc:
                started.set_exception(exc)
                raise
            started.set_result(None)
            listener = await _listen()
            while True:
                started_at = loop.time()
                try:
                    messages = await loop.run_in_executor(executor, tailer.step, self._interest())
                except Exception:
                    logger.exception("live update tick failed; retrying")
                    messages = []
                    await asyncio.sleep(1.0)
                await deliver(self.receivers, messages)
                if tailer.saw_changes:
                    # Coalesce: whatever changes meanwhile goes out together at the next tick. Counts
                    # and overview snapshots pace themselves (once a second) and do not hold rows back.
                    # The interval counts from this tick's start, so a slow tick does not add to the wait.
                    await asyncio.sleep(max(0.0, interval - (loop.time() - started_at)))
                elif not await _wait(listener, probe):
                    listener = None  # broken: probe from now on
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(loop.run_in_executor(executor, tailer.close if tailer else connection.close))
            executor.shutdown(wait=False)


async def deliver(receivers: dict[str, set[Receiver]], messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Hand a tick's messages to their groups' consumers, smallest groups first: a job page's update
    does not wait behind a list's fan-out to hundreds. A consumer that fails (its socket closing) is
    logged and the others still get theirs; the event loop gets a turn every YIELD_EVERY consumers.
    """
    batches = sorted(
        ((group, list(receivers.get(group, ())), message) for group, message in messages), key=lambda b: len(b[1])
    )
    served = 0
    for group, members, message in batches:
        for receiver in members:
            if receiver not in receivers.get(group, ()):  # left while the loop had its turn
                continue
            try:
                await receiver.jobs_changed(message)
            except Exception as exc:
                logger.warning("live update to %s failed: %s", group, exc)
            served += 1
            if served % YIELD_EVERY == 0:
                await asyncio.sleep(0)


async def _listen() -> Any:
    """On PostgreSQL, an async connection listening on the channel workers are woken by; else None."""
    if not is_postgres():
        return None
    import psycopg

    conn = None
    try:
        conn = await psycopg.AsyncConnection.connect(**listen_connection_kwargs(connection.settings_dict))
        await conn.execute(LISTEN_SQL)
    except BaseException as exc:  # cancelled while connecting (the last viewer left) included
        if conn is not None:
            await asyncio.shield(conn.close())
        if not isinstance(exc, Exception):
            raise
        logger.warning("LISTEN failed; live updates fall back to probing", exc_info=True)
        return None
    return conn


async def _wait(listener: Any, timeout: float) -> bool:
    """Until a NOTIFY arrives (PostgreSQL) or `timeout` seconds pass. False if the listener broke."""
    if listener is None:
        await asyncio.sleep(timeout)
        return True
    try:
        async for _ in listener.notifies(timeout=timeout, stop_after=1):
            pass
    except Exception:
        logger.warning("LISTEN connection failed; probing instead", exc_info=True)
        await asyncio.sleep(timeout)
        return False
    return True


fanout = Fanout()
