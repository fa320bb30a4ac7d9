"""The web process bench/live.py measures: project.asgi's application, plus a count of its SQL queries, the
time the fanout spends in its ticks and deliveries, and, when BENCH_PROFILE names a file, a cProfile of its
event loop thread (BENCH_PROFILE_TICKS: of the fanout's ticks on its own thread).

    daphne bench.live_server:application   (bench/live.py starts it)

The counts (every query of every connection this process opens, the fanout's included; the ticks' CPU
time on the tailer's thread and wall time; the deliveries' wall time on the event loop) go to the file
named by BENCH_QUERIES_FILE twice a second, so the benchmark reads rates over its own window. The
profile is written when the process exits (daphne stops on SIGINT).
"""

from __future__ import annotations

import atexit
import cProfile
import importlib
import json
import os
import threading
import time
from typing import Any

from django.db.backends.signals import connection_created

from project.asgi import application  # noqa: F401 - what daphne serves; sets Django up first

_lock = threading.Lock()
_queries = 0
_fanout = {"ticks": 0, "tick_cpu": 0.0, "tick_wall": 0.0, "deliveries": 0, "deliver_wall": 0.0}
fanout = importlib.import_module("dashboard.fanout")  # once Django is set up (project.asgi did it)
_step, _deliver = fanout.Tailer.step, getattr(fanout, "deliver", None)  # None: a revision before deliver()


_tick_profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE_TICKS") else None


def _timed_step(self: Any, interest: Any) -> Any:
    cpu, wall = time.thread_time(), time.perf_counter()
    if _tick_profile is not None:  # enabled on the tailer's thread only, around its ticks
        _tick_profile.enable()
    try:
        return _step(self, interest)
    finally:
        if _tick_profile is not None:
            _tick_profile.disable()
        _fanout["ticks"] += 1
        _fanout["tick_cpu"] += time.thread_time() - cpu
        _fanout["tick_wall"] += time.perf_counter() - wall


async def _timed_deliver(receivers: Any, messages: Any) -> None:
    wall = time.perf_counter()
    try:
        await _deliver(receivers, messages)  # type: ignore[misc]
    finally:
        _fanout["deliveries"] += 1
        _fanout["deliver_wall"] += time.perf_counter() - wall


fanout.Tailer.step = _timed_step
if _deliver is not None:
    fanout.deliver = _timed_deliver


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
            json.dump({"queries": _queries, "at": time.time(), **_fanout}, out)
        os.replace(path + ".tmp", path)
        time.sleep(0.5)


connection_created.connect(_on_connect, dispatch_uid="bench-live-count-queries")
if os.environ.get("BENCH_QUERIES_FILE"):
    threading.Thread(target=_write_counts, args=(os.environ["BENCH_QUERIES_FILE"],), daemon=True).start()

if _tick_profile is not None:
    atexit.register(lambda: _tick_profile.dump_stats(os.environ["BENCH_PROFILE_TICKS"]))

if os.environ.get("BENCH_PROFILE"):
    _profile = cProfile.Profile()
    _profile.enable()  # daphne imports the application on the thread that then runs its event loop

    @atexit.register
    def _dump() -> None:
        _profile.disable()
        _profile.dump_stats(os.environ["BENCH_PROFILE"])
