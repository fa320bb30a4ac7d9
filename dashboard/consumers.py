"""WebSocket consumers of the live dashboard: they refuse anonymous users, join the fanout's groups of the
page they serve, replay what a reconnecting page missed, and forward the fanout's fragments.

The fanout calls jobs_changed() directly (its groups are this process's consumers); the channel layer
carries only the session's group (a logout in any web process closes the session's sockets).

Consumers never write: actions go over HTTP to jobs.services. The messages are HTML fragments that
htmx-ext-ws swaps into the page by element id; each ends with #live-cursor (the newest event id).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict

from dashboard import fragments, livesession, queries
from dashboard.fanout import (
    GAP_SECONDS,
    MAX_EVENTS,
    ListView,
    fanout,
    job_group,
    list_group,
    overview_group,
    rows_to_render,
)
from dashboard.permissions import access_for
from jobs import selectors
from jobs.database import is_postgres
from jobs.exceptions import InvalidSearch, JobNotFound
from jobs.listing import JobFilters

logger = logging.getLogger(__name__)
REFUSED = 4003  # close code for a user without a dashboard role (htmx-ext-ws does not retry it)
MAX_SHOWN_IDS = 500
MAX_PREPENDED = 200  # new rows one open page receives before it asks for a reload
CATCH_UP_EVENTS = 50_000  # events a reconnecting page reads to catch up; beyond that it is asked to reload


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _catch_up(after: int, view: ListView, *, late_window: float | None = None) -> dict[str, Any] | None:
    """What a page showing `view` missed after event `after`, as a tick's message (None: nothing).

    Every missed change of a row it shows is in it, as in a tick; a backlog beyond CATCH_UP_EVENTS
    is not read, and the message then says so ("truncated"). On PostgreSQL an event with an id at or
    below `after` can have committed after the page read `after` (ids are taken before commit): the
    events created within `late_window` seconds (the tailer's GAP_SECONDS) before event `after` are
    read again too, and the rows they touched sent as they are now (a row sent twice is harmless).
    """
    if late_window is None:
        late_window = GAP_SECONDS if is_postgres() else 0.0  # SQLite commits its writes in id order
    late = selectors.events_committed_late(after, window=late_window, limit=MAX_EVENTS) if late_window else []
    events: list[tuple[int, int]] = []
    while len(events) < CATCH_UP_EVENTS:
        page = selectors.events_after(events[-1][0] if events else after, limit=MAX_EVENTS)
        events += page
        if len(page) < MAX_EVENTS:
            break
    if not events and not late:
        return None
    changed: dict[int, None] = {}
    for _, job_id in reversed(late + events):  # newest first
        changed.setdefault(job_id)
    new_for = ((view.top_id, view.filters),) if view.takes_new else ()
    ids, more_new = rows_to_render(list(changed), shown=view.shown, new_for=new_for)
    cursor = events[-1][0] if events else after
    truncated = len(events) >= CATCH_UP_EVENTS and bool(selectors.events_after(cursor, limit=1))
    return {
        "cursor": cursor,
        "cursor_html": fragments.cursor_html(cursor),
        "rows": fragments.changed_rows(ids),
        "more_new": more_new,
        "truncated": truncated,
    }


def _job_live(job_id: int, variant: str) -> tuple[int, dict[str, str] | None]:
    cursor = selectors.last_event_id()
    try:
        return cursor, fragments.job_live_variants(job_id, (variant,), cursor=cursor)
    except JobNotFound:
        return cursor, None


class LiveConsumer(AsyncWebsocketConsumer):
    """Shared shape: authenticate, join, accept, catch up; subclasses name their page and groups."""

    page = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        access = await database_sync_to_async(access_for)(user)
        if not access.view or user is None:
            await self.close(code=REFUSED)
            return
        session_key = self.scope["session"].session_key
        if session_key is None:  # a signed-in user has one; without it the session cannot be watched
            await self.close(code=REFUSED)
            return
        self.operate = access.operate
        self.query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.after = _int(self.query.get("after"))
        # In a thread: reading a jobs page's filters may look a task name up in the database.
        self.fanout_groups = await database_sync_to_async(self.groups_for)()
        self.session_group = livesession.session_group(session_key)
        await self.channel_layer.group_add(self.session_group, self.channel_name)
        await fanout.join(self.page, self.job_id(), self.list_view(), receiver=self, groups=self.fanout_groups)
        self.joined = True
        await self.accept()
        livesession.watch.add(self, session_key=session_key, user_id=user.pk)
        await self.catch_up()

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The session logged out (livesession.close_sockets_on_logout)."""
        await self.close(code=livesession.SESSION_ENDED)

    async def disconnect(self, code: int) -> None:
        await livesession.watch.remove(self)
        if getattr(self, "joined", False):
            self.joined = False
            await self.channel_layer.group_discard(self.session_group, self.channel_name)
            await fanout.leave(self.page, self.job_id(), self.list_view(), receiver=self, groups=self.fanout_groups)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Pages send nothing; anything sent is ignored (actions go over HTTP)."""

    def groups_for(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def job_id(self) -> int | None:
        return None

    def list_view(self) -> ListView | None:
        return None

    def variant(self) -> str:
        """Which of a job page's renderings this socket gets (fragments.VARIANTS)."""
        return "operate" if self.operate else "view"

    async def catch_up(self) -> None:
        """Send what a page rendered at event `after` has missed."""

    async def jobs_changed(self, event: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class OverviewConsumer(LiveConsumer):
    """The overview: the fanout sends a new snapshot when something changed (a joining page asks for one)."""

    page = "overview"

    def groups_for(self) -> list[str]:
        return [overview_group()]

    async def jobs_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])  # the fanout appended the cursor's element


class JobListConsumer(LiveConsumer):
    """A jobs page: changed rows it shows are replaced; new jobs matching its filters are added on top
    of the first page. The page tells which rows it shows (?ids=), so nothing is sent for others.
    """

    page = "jobs"

    def groups_for(self) -> list[str]:
        try:
            self.filters = queries.parse_filters(QueryDict(self.scope.get("query_string", b"")))
            valid = True
        except InvalidSearch:  # the page showed the error and no rows: it takes no new ones either
            self.filters, valid = JobFilters(), False
        # New jobs go on top of the first page of a newest-first list; an oldest-first list gets
        # them at its far end, which a reload shows.
        takes_new = valid and not self.filters.oldest_first and not self.query.get("before")
        ids = [_int(i) for i in self.query.get("ids", "").split(",")[:MAX_SHOWN_IDS]]
        shown = {i for i in ids if i is not None}
        # The fanout reads this view every tick: every change of a row in `shown` reaches this page.
        self.view = ListView(shown=shown, top_id=max(shown, default=0), takes_new=takes_new, filters=self.filters)
        self.prepended = 0
        return [list_group()]

    def list_view(self) -> ListView | None:
        return self.view

    async def catch_up(self) -> None:
        if self.after is None:
            return
        missed = await database_sync_to_async(_catch_up)(self.after, self.view)
        if missed is not None:
            await self.jobs_changed(missed)

    async def jobs_changed(self, event: dict[str, Any]) -> None:
        """Send the rows this page shows that changed, new rows for its top, notices and counts.

        New rows (each in a <tbody> swapped in at the top of #job-rows) travel in a message of their own:
        after a bare <tr>, the HTML parser ignores a <tbody> start tag, so in one message with replaced
        rows the new row lost its wrapper and htmx looked for an element with its id (oobErrorNoTarget).
        """
        parts = []
        prepend = []
        new = []
        view = self.view
        for row in event.get("rows", []):
            if row["id"] in view.shown:
                parts.append(row["html"])
            elif (
                view.takes_new
                and row["id"] > view.top_id
                and self.filters.matches(
                    job_id=row["id"],
                    status=row["status"],
                    queue=row["queue"],
                    task=row["task"],
                    priority=row["priority"],
                )
            ):
                new.append(row)
        more_new = bool(event.get("more_new")) and view.takes_new  # the fanout left some new jobs out
        for row in sorted(new, key=lambda r: r["id"]):  # each goes on top, so the newest ends first
            if self.prepended >= MAX_PREPENDED:
                view.takes_new = False  # the page asks for a reload: the fanout stops rendering new rows for it
                more_new = True
                break
            prepend.append(f'<tbody hx-swap-oob="afterbegin:#job-rows">{row["html"]}</tbody>')
            view.shown.add(row["id"])
            view.top_id = max(view.top_id, row["id"])
            self.prepended += 1
        if more_new:
            parts.append(fragments.notice_html("More new jobs: reload to see them."))
        if event.get("truncated"):
            parts.append(fragments.notice_html("Some updates were skipped: reload to see everything."))
        if "counts" in event and not self.filters.narrowed:  # the live counts are global: a narrowed list keeps its own
            parts.append(event["counts"])
            if self.operate:  # only operators' pages have the "select all N matching" form
                parts.append(
                    fragments.matching_html(event["count_values"], status=self.filters.status, upto=event["upto"])
                )
        messages = [text for text in ("".join(prepend), "".join(parts)) if text]
        if messages:
            messages[-1] += event["cursor_html"]  # the cursor moves once everything arrived
        for text in messages:
            await self.send(text_data=text)


class JobConsumer(LiveConsumer):
    """One job's page: its live region (status, progress, logs, attempts, timeline) when it moves."""

    page = "job"

    def job_id(self) -> int | None:
        return int(self.scope["url_route"]["kwargs"]["job_id"])

    def groups_for(self) -> list[str]:
        return [job_group(self.job_id() or 0)]

    async def catch_up(self) -> None:
        if self.after is None:
            return
        cursor, variants = await database_sync_to_async(_job_live)(self.job_id() or 0, self.variant())
        if variants is not None:
            await self.jobs_changed({"cursor": cursor, "html": variants})

    async def jobs_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"][self.variant()])  # the cursor's element included
