"""Migration operations that keep the queue running while a deploy migrates.

Building an index takes a lock that blocks every claim and enqueue on the table until the build
ends (0.1-0.2 s at a million jobs, seconds at tens of millions). On PostgreSQL `AddIndexOnline`
builds it with CREATE INDEX CONCURRENTLY instead, which takes no such lock; elsewhere (SQLite, one
box, no rolling deploys) it is a plain AddIndex. A migration using it must set `atomic = False`:
PostgreSQL refuses a concurrent build inside a transaction. `AddUniqueIndexOnline` and
`RemoveUniqueIndexOnline` do the same for a partial UniqueConstraint (a unique index on
PostgreSQL): a constraint is replaced by adding the new one, then removing the old, so the rule
holds throughout. `RemoveIndexOnline` drops an index CONCURRENTLY (a plain DROP INDEX waits for
every open transaction on the table and blocks claims while it waits); an index is replaced by
adding the new one first, so the queries it serves are never left without one.

tests/test_migrations.py holds the rules every migration follows; docs/deploy.md the deploy.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from jobs.database import is_postgres


def _require_no_transaction(schema_editor: Any) -> None:
    if schema_editor.connection.in_atomic_block:
        raise RuntimeError(
            "online index operations run CONCURRENTLY on PostgreSQL, which cannot run in a transaction: "
            "set atomic = False on the migration"
        )


def _drop_invalid_leftover(schema_editor: Any, name: str) -> None:
    """Drop an INVALID index called `name` left by a failed concurrent build (see AddIndexOnline)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND NOT i.indisvalid",
            [name],
        )
        leftover = cursor.fetchone() is not None
    if leftover:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")


def _create_index_concurrently(schema_editor: Any, model: Any, index: Any) -> None:
    _drop_invalid_leftover(schema_editor, index.name)
    schema_editor.add_index(model, index, concurrently=True)


def _create_unique_index_concurrently(schema_editor: Any, model: Any, constraint: Any) -> None:
    _drop_invalid_leftover(schema_editor, constraint.name)
    # A partial UniqueConstraint is a unique index on PostgreSQL; Django's own statement, built
    # CONCURRENTLY (its schema editor has no such option for constraints).
    statement = str(constraint.create_sql(model, schema_editor))
    if not statement.startswith("CREATE UNIQUE INDEX "):
        raise RuntimeError(f"{constraint.name} is not built as a unique index: {statement}")
    schema_editor.execute(statement.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX CONCURRENTLY ", 1))


def _drop_index_concurrently(schema_editor: Any, name: str) -> None:
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")


class _Online:
    """What every operation here shares: on PostgreSQL, outside a transaction, for a model this
    database migrates, `online_forwards` / `online_backwards` (model: the model on the side the
    index exists); elsewhere Django's own operation."""

    model_name: str
    adds: bool  # forwards builds the index (Add...) or drops it (Remove...)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._run(app_label, schema_editor, from_state, to_state, forwards=True)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._run(app_label, schema_editor, from_state, to_state, forwards=False)

    def _run(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any, *, forwards: bool) -> None:
        django_op = super().database_forwards if forwards else super().database_backwards  # type: ignore[misc]
        if not is_postgres(schema_editor.connection):
            django_op(app_label, schema_editor, from_state, to_state)
            return
        _require_no_transaction(schema_editor)
        adds = forwards == self.adds  # the step builds an index (else it drops one)
        state = to_state if adds else from_state
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):  # type: ignore[attr-defined]
            return
        if adds:
            index_state = state.models[app_label, self.model_name.lower()]
            self.build(schema_editor, model, index_state)
        else:
            _drop_index_concurrently(schema_editor, self.index_name)

    @property
    def index_name(self) -> str:
        raise NotImplementedError

    def build(self, schema_editor: Any, model: Any, model_state: Any) -> None:
        raise NotImplementedError


class AddIndexOnline(_Online, migrations.AddIndex):
    """AddIndex that builds CONCURRENTLY on PostgreSQL and drops an invalid leftover first.

    A concurrent build that fails (a deploy killed halfway, a lost connection) leaves an INVALID
    index of the same name behind; PostgreSQL keeps updating it but never reads it, and a second
    CREATE INDEX with that name fails. Dropping it first makes the migration safe to run again.
    """

    adds = True

    @property
    def index_name(self) -> str:
        return str(self.index.name)

    def build(self, schema_editor: Any, model: Any, model_state: Any) -> None:
        _create_index_concurrently(schema_editor, model, self.index)

    def describe(self) -> str:
        return f"Create index {self.index.name} on {self.model_name} without blocking writes"


class RemoveIndexOnline(_Online, migrations.RemoveIndex):
    """RemoveIndex that drops CONCURRENTLY on PostgreSQL (and rebuilds concurrently when reversed)."""

    adds = False

    @property
    def index_name(self) -> str:
        return str(self.name)

    def build(self, schema_editor: Any, model: Any, model_state: Any) -> None:
        _create_index_concurrently(schema_editor, model, model_state.get_index_by_name(self.name))

    def describe(self) -> str:
        return f"Remove index {self.name} from {self.model_name} without blocking writes"


class AddUniqueIndexOnline(_Online, migrations.AddConstraint):
    """AddConstraint of a UniqueConstraint with a condition, built CONCURRENTLY on PostgreSQL."""

    adds = True

    @property
    def index_name(self) -> str:
        return str(self.constraint.name)

    def build(self, schema_editor: Any, model: Any, model_state: Any) -> None:
        _create_unique_index_concurrently(schema_editor, model, self.constraint)

    def describe(self) -> str:
        return f"Create unique index {self.constraint.name} on {self.model_name} without blocking writes"


class RemoveUniqueIndexOnline(_Online, migrations.RemoveConstraint):
    """RemoveConstraint of a UniqueConstraint with a condition, dropped CONCURRENTLY on PostgreSQL."""

    adds = False

    @property
    def index_name(self) -> str:
        return str(self.name)

    def build(self, schema_editor: Any, model: Any, model_state: Any) -> None:
        _create_unique_index_concurrently(schema_editor, model, model_state.get_constraint_by_name(self.name))

    def describe(self) -> str:
        return f"Remove unique index {self.name} from {self.model_name} without blocking writes"
