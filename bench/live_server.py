"""The web process bench/live.py measures: project.asgi's application, plus a count of its SQL queries and,
when BENCH_PROFILE names a file, a cProfile of its event loop thread.

    daphne bench.live_server:application   (bench/live.py starts it)

The count (every query of every connection this process opens, the fanout's included) goes to the
file named by BENCH_QUERIES_FILE twice a second, so the benchmark reads queries per second over its
own window. The profile is written when the process exits (daphne stops on SIGINT).
"""

from __future__ import annotations

import atexit
import cProfile
import json
import os
import threading
import time
from typing import Any

from django.db.backends.signals import connection_created

from project.asgi import application  # noqa: F401 - what daphne serves; sets Django up first

_lock = threading.Lock()
_queries = 0


def _count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    global _queries
    with _lock:
        _queries += 1
    return execute(sql, params, many, context)


def _on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.execute_wrappers.append(_count)


def _write_counts(path: str) -> None:
    while True:
        with open(path + ".tmp", "w") as out:
            json.dump({"queries": _queries, "at": time.time()}, out)
        os.replace(path + ".tmp", path)
        time.sleep(0.5)


connection_created.connect(_on_connect, dispatch_uid="bench-live-count-queries")
if os.environ.get("BENCH_QUERIES_FILE"):
    threading.Thread(target=_write_counts, args=(os.environ["BENCH_QUERIES_FILE"],), daemon=True).start()

if os.environ.get("BENCH_PROFILE"):
    _profile = cProfile.Profile()
    _profile.enable()  # daphne imports the application on the thread that then runs its event loop

    @atexit.register
    def _dump() -> None:
        _profile.disable()
        _profile.dump_stats(os.environ["BENCH_PROFILE"])
