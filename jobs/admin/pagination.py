"""Admin for tables that grow without bound: counts capped by a LIMITed subquery, never a COUNT(*) of it all."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from jobs import listing


class CappedPaginator(Paginator):
    """A paginator that counts at most `cap` rows (listing.capped_count).

    Past the cap the list offers the first cap rows only (deep OFFSETs are slow anyway): a filter or
    a search narrows it. An unfiltered PostgreSQL list over the cap is labelled with the planner's
    row estimate instead (listing.total_label).
    """

    cap = listing.COUNT_CAP

    @cached_property
    def counted(self) -> int:
        """The rows, counted up to cap + 1."""
        return listing.capped_count(self._queryset, cap=self.cap)

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.cap)

    @property
    def capped(self) -> bool:
        """Whether more rows match than were counted."""
        return self.counted > self.cap

    @cached_property
    def count_label(self) -> str:
        """The count for people: "1,234", "10,000+", or "about 98,000" (PostgreSQL estimate)."""
        return listing.total_label(self._queryset, counted=self.counted, cap=self.cap)

    @property
    def _queryset(self) -> QuerySet[Any]:
        # The admin hands a changelist's paginator its QuerySet; Paginator's type allows any sequence.
        return cast("QuerySet[Any]", self.object_list)


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
