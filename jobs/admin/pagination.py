"""Admin for tables that grow without bound: counts capped by a LIMITed subquery, never a COUNT(*) of it all."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from jobs.database import is_postgres
from jobs.listing import COUNT_CAP


class CappedPaginator(Paginator):
    """A paginator that counts at most COUNT_CAP rows.

    The count is `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, so it reads at most cap + 1
    index entries however big the table is. Past the cap the list offers the first cap rows only
    (deep OFFSETs are slow anyway): a filter or a search narrows it. An unfiltered PostgreSQL list
    over the cap is labelled with the planner's row estimate (pg_class.reltuples) instead.
    """

    cap = COUNT_CAP
    capped = False  # set by count: more rows match than were counted

    @cached_property
    def count(self) -> int:
        counted = self.object_list[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)

    @cached_property
    def count_label(self) -> str:
        """The count for people: "1,234", "10,000+", or "about 98,000" (PostgreSQL estimate)."""
        if not self.count or not self.capped:
            return f"{self.count:,}"
        estimate = self._estimate()
        return f"about {estimate:,}" if estimate > self.cap else f"{self.cap:,}+"

    def _estimate(self) -> int:
        """The planner's row count for an unfiltered PostgreSQL table, else 0 (unknown)."""
        queryset: QuerySet[Any] = self.object_list
        connection = connections[queryset.db]
        if not is_postgres(connection) or queryset.query.has_filters():
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        return max(0, int(row[0])) if row else 0  # -1 means "never analysed"


class LargeTableAdmin(admin.ModelAdmin):
    """Base for the admins of unbounded tables (jobs and their history).

    No total count, no facet counts (each one is an aggregate over the table), no date
    hierarchy, and sorting only by id, which is the primary key index.
    """

    paginator = CappedPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = None
    ordering = ("-id",)
    sortable_by = ("id",)
