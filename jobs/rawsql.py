"""Plain DB-API access for the per-job statements (claim, finish, enqueue) that jobs/states.py runs.

Each job runs about five statements; Django's cursor wrapper, placeholder rewriting and field
adaptation cost more than the database itself there. This module holds no rules about jobs: it
only runs the SQL that jobs/states.py composes.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from jobs.conf import read_setting


class Hot:
    """The default database's raw connection, for one transaction's hot statements."""

    def __init__(self) -> None:
        self.conn = connections[DEFAULT_DB_ALIAS]
        self.conn.ensure_connection()
        self.pg = self.conn.vendor == "postgresql"
        self.ops = self.conn.ops
        self.prepare = self.pg and _allow_prepare(self.conn.connection)

    def execute(self, sql: str, params: Sequence[Any]) -> Any:
        """Run one statement on a fresh cursor and return the cursor (its rows may be read later)."""
        # wrap_database_errors turns driver errors into django.db ones (IntegrityError...), as
        # Django's own cursors do, so callers catch one hierarchy.
        with self.conn.wrap_database_errors:
            if self.pg:
                import psycopg

                # Server-side binding, prepared: the claim and finish are parsed (and, once PostgreSQL
                # settles on a generic plan, planned) once per connection rather than on every job.
                cursor = psycopg.Cursor(self.conn.connection)
                cursor.execute(sql, params, prepare=self.prepare)
            else:
                cursor = self.conn.connection.cursor()
                cursor.execute(_qmark(sql), params)
        if self.conn.queries_logged:  # keep assertNumQueries and debug tooling truthful
            self.conn.queries_log.append(
                {
                    "sql": self.ops.compose_sql(sql, params)
                    if self.pg
                    else self.ops.last_executed_query(cursor, sql, params),
                    "time": "0.000",
                }
            )
        return cursor

    def batch(self) -> contextlib.AbstractContextManager[Any]:
        """PostgreSQL: send the statements run inside as one pipeline, so they cost one network
        round trip rather than one each; read their rows after the block. SQLite: no-op."""
        if not self.pg:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(self.conn.wrap_database_errors)  # errors surface when the pipeline syncs
        stack.enter_context(self.conn.connection.pipeline())
        return stack

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """One transaction for the statements run inside, sent as one batch (see batch()).

        On PostgreSQL outside any atomic block, the pipeline itself is the transaction: statements
        up to the pipeline's Sync run as one implicit transaction, committed at the Sync or rolled
        back whole if one fails, so neither BEGIN nor COMMIT travels and the exchange is one round
        trip. Inside a caller's atomic block, or on SQLite, it is an atomic block around batch().
        """
        if self.pg and self.conn.get_autocommit() and not self.conn.in_atomic_block:
            return self._pipeline_transaction()
        stack = contextlib.ExitStack()
        stack.enter_context(transaction.atomic())
        stack.enter_context(self.batch())
        return stack

    @contextlib.contextmanager
    def _pipeline_transaction(self) -> Iterator[None]:
        raw = self.conn.connection
        with self.conn.wrap_database_errors, raw.pipeline():
            try:
                yield
            except BaseException:
                # The pipeline's closing Sync would commit what was sent so far: roll it back first
                # (if the server already failed a statement, it skips this and rolls back at the Sync).
                with contextlib.suppress(Exception):
                    raw.execute("ROLLBACK")
                raise

    def dt(self, value: datetime.datetime | None) -> Any:
        return value if self.pg or value is None else self.ops.adapt_datetimefield_value(value)

    def json(self, value: Any) -> Any:
        return None if value is None else self.ops.adapt_json_value(value, None)


# Far above any repeat count an ORM query reaches: psycopg prepares only what asks for it.
EXPLICIT_ONLY = 2**62


def _allow_prepare(raw: Any) -> bool:
    """Whether the hot statements may be prepared on this psycopg connection, enabling it if so.

    Django opens connections with prepare_threshold=None (for transaction-mode connection poolers,
    where a prepared statement may land on another server connection), and psycopg then ignores
    prepare=True. Unless JOBDECK_PREPARE_STATEMENTS is 0 (set it so behind such a pooler), the
    threshold is raised to a count no query reaches: only the hot statements, which ask, are prepared.
    A threshold the project set itself (OPTIONS["prepare_threshold"]) is left as it is.
    """
    if raw.prepare_threshold is None:
        if not _prepare_setting():
            return False
        raw.prepare_threshold = EXPLICIT_ONLY
    return True


@functools.cache
def _prepare_setting() -> bool:
    return bool(read_setting("JOBDECK_PREPARE_STATEMENTS", 1))


@functools.cache
def _qmark(sql: str) -> str:
    return sql.replace("%s", "?")


@dataclass(frozen=True, slots=True)
class From:
    """In update_then_insert(): a value taken from the row the UPDATE returned."""

    column: str


def update_then_insert(
    hot: Hot, update_sql: str, params: list[Any], returning: Sequence[str], inserts: Sequence[tuple[str, list[Any]]]
) -> Callable[[], tuple | None]:
    """Run `update_sql ... RETURNING returning` and, if it matched a row, the INSERTs that hang off
    it (the event, the attempt), all in the caller's transaction. Returns a function giving the
    row or None (on PostgreSQL, call it after the pipeline, see Hot.batch()).

    PostgreSQL gets one statement with data-modifying CTEs; SQLite runs them one by one (calls
    into a library, no network).
    """
    sql = f"{update_sql} RETURNING {', '.join(returning)}"
    if hot.pg:
        ctes, values = [], []
        for n, (target, items) in enumerate(inserts):
            exprs = [f"main.{v.column}" if isinstance(v, From) else "%s" for v in items]
            ctes.append(f"i{n} AS (INSERT INTO {target} SELECT {', '.join(exprs)} FROM main)")
            values += [v for v in items if not isinstance(v, From)]
        return hot.execute(f"WITH main AS ({sql}), {', '.join(ctes)} SELECT * FROM main", [*params, *values]).fetchone
    row = hot.execute(sql, params).fetchone()
    if row is not None:
        for target, items in inserts:
            values = [row[returning.index(v.column)] if isinstance(v, From) else v for v in items]
            hot.execute(f"INSERT INTO {target} VALUES ({', '.join(['%s'] * len(values))})", values)
    return lambda: row


def datetime_value(value: Any) -> datetime.datetime | None:
    """A datetime column read through a raw cursor: text (UTC) on SQLite, aware already on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


def json_value(value: Any) -> Any:
    """A JSON column read through a raw cursor: text on SQLite and (as Django sets it up) PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value
