"""The worker engine: huey's consumer over the job table (see docs/architecture.md).

Importing this package imports huey without the clients it does not need here. huey.storage
imports `redis` and `psycopg` at its top for its own Redis and PostgreSQL storages, which Jobdeck
never uses (jobs/engine/storage.py is the storage); on SQLite that was 9 MB of every worker's
memory for nothing. While huey.storage imports, each of the two not yet imported is marked
missing, so huey sets its name to None (its own fallback for an absent package); afterwards the
marks are removed and anything else may import them as usual. On PostgreSQL Django has usually
imported psycopg already, and huey then simply shares it.
"""

from __future__ import annotations

import sys


def _import_huey_without_its_clients() -> None:
    hidden = [name for name in ("redis", "psycopg") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" now raises ImportError
    try:
        import huey.storage  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


_import_huey_without_its_clients()
