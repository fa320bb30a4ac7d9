"""Migrations never stop the queue: the rules a rolling deploy needs, checked on every migration.

A rolling deploy migrates while old workers and web processes keep running (docs/deploy.md). So a
migration may not take a lock that blocks claims for the length of a table scan, and the old code
must keep working against the new schema for one release:

- an index on an existing table is built with AddIndexOnline in a non-atomic migration, a partial
  unique index (a UniqueConstraint with a condition) with AddUniqueIndexOnline, likewise, and
  dropped with RemoveIndexOnline;
- a new column is nullable or has a database default (old code inserts rows without it);
- no column or table is removed or renamed, no column altered, no constraint or foreign key added
  to an existing table (each rewrites or scans the table under a lock, or breaks the old code).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, migrations, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED, ForeignKey

from jobs.migration_operations import AddIndexOnline, AddUniqueIndexOnline, RemoveIndexOnline

# Operations that shipped before these rules, each with why it is accepted.
ALLOWED = {
    # Added while Jobdeck had no deployments to roll; the column is nullable-equivalent for old
    # code only with a database default, which it lacks. Kept as shipped.
    ("0002_schedules_tokens_logs", "attempt", "progress_message"),
}

BLOCKING = (
    migrations.RemoveField,
    migrations.RenameField,
    migrations.AlterField,
    migrations.DeleteModel,
    migrations.RenameModel,
    migrations.AddConstraint,
    migrations.RunSQL,
)


def _jobs_migrations() -> list[migrations.Migration]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return [loader.disk_migrations[key] for key in sorted(loader.disk_migrations) if key[0] == "jobs"]


def problems() -> list[str]:
    found: list[str] = []
    created: set[str] = set()  # models created by an earlier migration: "existing tables"
    for migration in _jobs_migrations():
        created_here = {op.name.lower() for op in migration.operations if isinstance(op, migrations.CreateModel)}
        existing = created - created_here
        for op in migration.operations:
            where = f"{migration.name}: {op.describe()}"
            model = getattr(op, "model_name", "").lower()
            if migration.name == "0001_initial" or model not in existing:
                continue  # a table this migration creates: nothing old reads or writes it yet
            if isinstance(op, AddUniqueIndexOnline):
                if migration.atomic:
                    found.append(f"{where}: AddUniqueIndexOnline needs atomic = False on the migration")
                elif op.constraint.condition is None:
                    found.append(f"{where}: only a partial unique index builds online")
            elif isinstance(op, migrations.RemoveIndex):
                if not isinstance(op, RemoveIndexOnline):
                    found.append(f"{where}: use jobs.migration_operations.RemoveIndexOnline")
                elif migration.atomic:
                    found.append(f"{where}: RemoveIndexOnline needs atomic = False on the migration")
            elif isinstance(op, BLOCKING):
                found.append(f"{where}: blocks the queue or breaks the old code during a rolling deploy")
            elif isinstance(op, migrations.AddIndex):
                if not isinstance(op, AddIndexOnline):
                    found.append(f"{where}: use jobs.migration_operations.AddIndexOnline")
                elif migration.atomic:
                    found.append(f"{where}: AddIndexOnline needs atomic = False on the migration")
            elif isinstance(op, migrations.AddField):
                if (migration.name, model, op.name) in ALLOWED:
                    continue
                if isinstance(op.field, ForeignKey):
                    found.append(f"{where}: a foreign key on an existing table validates under a lock")
                elif not op.field.null and op.field.db_default is NOT_PROVIDED:
                    found.append(f"{where}: a new column needs null=True or a constant db_default")
        created |= created_here
    return found


def test_no_migration_blocks_the_queue_or_breaks_the_old_code() -> None:
    assert problems() == []


def test_the_rules_catch_a_blocking_migration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself works: a plain AddIndex and a NOT NULL column without default are caught."""
    bad = type(
        "Migration",
        (migrations.Migration,),
        {
            "operations": [
                migrations.AddIndex(model_name="job", index=models.Index(fields=["queue"], name="x_idx")),
                migrations.AddField(model_name="job", name="flag", field=models.IntegerField(default=0)),
            ]
        },
    )("9999_bad", "jobs")
    monkeypatch.setattr(__name__ + "._jobs_migrations", lambda: [*_real_migrations(), bad])
    found = problems()
    assert any("x_idx" in p and "AddIndexOnline" in p for p in found)
    assert any("flag" in p and "db_default" in p for p in found)


_real_migrations = _jobs_migrations


INDEX_BY_NAME = "pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'job_queue_waiting_idx'"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent index builds are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_index_builds_concurrently_over_an_invalid_leftover(make_job: Any) -> None:
    """Migrating 0003 -> 0004 runs CREATE INDEX CONCURRENTLY, after dropping what a failed build left."""
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        make_job(queue="default")
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("jobs", "0003_outcome_counters")])
    try:
        with connection.cursor() as cursor:
            # A failed concurrent build: two jobs on one queue make a UNIQUE build fail halfway,
            # leaving an INVALID index under the name the migration is about to use.
            with pytest.raises(IntegrityError):
                cursor.execute("CREATE UNIQUE INDEX CONCURRENTLY job_queue_waiting_idx ON jobs_job (queue)")
            cursor.execute(f"SELECT indisvalid FROM {INDEX_BY_NAME}")
            assert cursor.fetchone() == (False,)
        executor = MigrationExecutor(connection)
        with CaptureQueriesContext(connection) as queries:
            executor.migrate([("jobs", "0004_queue_waiting_index")])
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        assert "CREATE INDEX CONCURRENTLY" in sql
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT indisvalid, pg_get_indexdef(i.indexrelid) FROM {INDEX_BY_NAME}")
            valid, definition = cursor.fetchone()
        assert valid and "UNIQUE" not in definition and "run_at" in definition
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent index builds are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_key_index_is_replaced_concurrently_and_back() -> None:
    """0011 -> 0012 builds job_idempotency_key_held CONCURRENTLY before dropping the old key index
    (a key stays unique throughout); migrating back restores the old one."""
    from django.test.utils import CaptureQueriesContext

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("jobs", "0011_task_versions")])
        executor = MigrationExecutor(connection)
        with CaptureQueriesContext(connection) as queries:
            executor.migrate([("jobs", "0012_unique_expiry")])
        sql = [q["sql"] for q in queries.captured_queries]
        create = next(i for i, q in enumerate(sql) if "CREATE UNIQUE INDEX CONCURRENTLY" in q)
        drop = next(i for i, q in enumerate(sql) if "DROP INDEX CONCURRENTLY" in q and "key_active" in q)
        assert create < drop
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname LIKE 'job_idempotency_key%%' AND i.indisunique AND i.indisvalid"
            )
            assert cursor.fetchall() == [("job_idempotency_key_held",)]
        executor = MigrationExecutor(connection)
        executor.migrate([("jobs", "0011_task_versions")])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname LIKE 'job_idempotency_key%%' AND i.indisunique"
            )
            assert cursor.fetchall() == [("job_idempotency_key_active",)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent index builds are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_due_index_is_replaced_concurrently_and_back() -> None:
    """0015 -> 0016 builds job_due_ready_idx CONCURRENTLY, then drops job_due_idx CONCURRENTLY (the
    due reads always have an index); migrating back restores the old one, concurrently too."""
    from django.test.utils import CaptureQueriesContext

    def due_indexes() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname LIKE 'job_due%%' AND i.indisvalid"
            )
            return [name for (name,) in cursor.fetchall()]

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("jobs", "0015_job_dependencies")])
        assert due_indexes() == ["job_due_idx"]
        executor = MigrationExecutor(connection)
        with CaptureQueriesContext(connection) as queries:
            executor.migrate([("jobs", "0016_due_index")])
        sql = [q["sql"] for q in queries.captured_queries]
        create = next(i for i, q in enumerate(sql) if "CREATE INDEX CONCURRENTLY" in q and "job_due_ready_idx" in q)
        drop = next(i for i, q in enumerate(sql) if "DROP INDEX CONCURRENTLY" in q and "job_due_idx" in q)
        assert create < drop
        assert due_indexes() == ["job_due_ready_idx"]
        executor = MigrationExecutor(connection)
        with CaptureQueriesContext(connection) as queries:
            executor.migrate([("jobs", "0015_job_dependencies")])
        assert any("CREATE INDEX CONCURRENTLY" in q["sql"] for q in queries.captured_queries)
        assert due_indexes() == ["job_due_idx"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
