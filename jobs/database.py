"""Which database this is, and the plain DB-API access the per-job statements run on.

The one place that asks for the vendor (is_postgres(), is_sqlite()); `Hot`, the raw connection
wrapper for the hot statements (claim, finish, enqueue); NOTIFY, which wakes idle workers and the
dashboard on PostgreSQL; and the settings of the connections that LISTEN for it.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from jobs.conf import read_setting

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

NOTIFY_CHANNEL = "jobdeck_jobs"  # workers and the dashboard's tailer LISTEN on it
LISTEN_SQL = f"LISTEN {NOTIFY_CHANNEL}"
NOTIFY_SQL = "SELECT pg_notify(%s, '')"  # parameter: NOTIFY_CHANNEL; sent when the transaction commits


def is_postgres(conn: BaseDatabaseWrapper | None = None) -> bool:
    """Whether `conn` (default: the default database's connection) is PostgreSQL."""
    return (conn or connection).vendor == "postgresql"


def is_sqlite(conn: BaseDatabaseWrapper | None = None) -> bool:
    """Whether `conn` (default: the default database's connection) is SQLite."""
    return (conn or connection).vendor == "sqlite"


def notify_new_jobs() -> None:
    """Wake idle PostgreSQL workers when the current transaction commits (SQLite workers probe instead)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(NOTIFY_SQL, [NOTIFY_CHANNEL])


def listen_connection_kwargs(settings_dict: dict[str, Any]) -> dict[str, Any]:
    """psycopg.connect() keywords for a connection of its own (autocommit) to LISTEN on `settings_dict`'s
    database: Django's connections are used for transactions, and one in LISTEN must stay idle."""
    s = settings_dict
    return {
        "dbname": s["NAME"],
        "user": s.get("USER") or None,
        "password": s.get("PASSWORD") or None,
        "host": s.get("HOST") or None,
        "port": s.get("PORT") or None,
        "autocommit": True,
    }


class RawCursor(Protocol):
    """What Hot.execute() returns: a DB-API cursor (sqlite3's or psycopg's), as jobs/states reads it."""

    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Hot:
    """The default database's raw connection, for one transaction's hot statements.

    Each job runs about five statements; Django's cursor wrapper, placeholder rewriting and field
    adaptation cost more than the database itself there. This class holds no rules about jobs: it
    only runs the SQL that jobs/states composes.
    """

    def __init__(self) -> None:
        self.conn = connections[DEFAULT_DB_ALIAS]
        self.conn.ensure_connection()
        self.pg = is_postgres(self.conn)
        self.ops = self.conn.ops
        self.prepare = self.pg and _allow_prepare(self.conn.connection)

    def execute(self, sql: str, params: Sequence[Any]) -> RawCursor:
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
                    # compose_sql() exists on PostgreSQL's operations only, and self.pg says they are.
                    "sql": cast("PostgresOperations", self.ops).compose_sql(sql, params)
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
        trip. Inside a caller's atomic block, or on SQLite (whose atomic block begins IMMEDIATE, as
        the project's settings ask), it is an atomic block around batch().
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

    def notify(self) -> None:
        """NOTIFY the workers' channel, delivered only if this transaction commits."""
        if self.pg:
            self.execute(NOTIFY_SQL, [NOTIFY_CHANNEL])

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


def datetime_value(value: Any) -> datetime.datetime | None:
    """A datetime column read through a raw cursor: text (UTC) on SQLite, aware already on PostgreSQL."""
    parsed: datetime.datetime | None = datetime.datetime.fromisoformat(value) if isinstance(value, str) else value
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def json_value(value: Any) -> Any:
    """A JSON column read through a raw cursor: text on SQLite and (as Django sets it up) PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value
