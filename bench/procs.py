"""Benchmark subprocesses: start them in their own process groups, stop them, sample their memory and CPU."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this child if the process that started it dies, so no run leaves orphans."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start(cmd: Sequence[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `cmd` in a new session (its own process group), output appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(cmd),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # set before any sampler thread starts
        )


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop(procs: Sequence[subprocess.Popen], *, grace: float = 10.0) -> None:
    """SIGINT each process group, wait up to `grace` seconds, then SIGKILL whatever is left of the groups."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
    for proc in procs:  # also reaps forked children that outlived their parent
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    """Poll `predicate` until it is true; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


def _tree(pids: Sequence[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by the processes and all their descendants, those that
    ended included (children_*: an isolated worker's job processes, a recycled process worker)."""
    total = 0.0
    for proc in _tree(pids):
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine so far, summed over cores.
    Time stolen by the hypervisor counts in the total, not as busy."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq
    return busy, busy + t.idle + t.iowait + t.steal


Sample = tuple[float, dict[int, tuple[int, int]]]  # (time.time(), {pid: (rss, pss) in bytes})


class RssSampler(threading.Thread):
    """Samples the resident memory of process trees every `interval` seconds until stopped."""

    def __init__(self, pids: Sequence[int], interval: float = 0.2) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pids = list(pids)
        self.interval = interval
        self.samples: list[Sample] = []
        self._stopped = threading.Event()

    def sample(self) -> None:
        memory = {}
        for proc in _tree(self.pids):
            try:
                info = proc.memory_full_info()  # smaps_rollup: cheap, and gives PSS
                memory[proc.pid] = (info.rss, info.pss)
            except psutil.NoSuchProcess:
                pass
        if memory:
            self.samples.append((time.time(), memory))

    def run(self) -> None:
        while not self._stopped.is_set():
            self.sample()
            self._stopped.wait(self.interval)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def rss_summary(samples: list[Sample], *, warm_at: float) -> dict[str, float]:
    """Memory of the worker process tree in MB. RSS summed over the processes: first sample, once
    warm (first sample at or after `warm_at`), peak and last, `growth` = last/warm - 1; also the
    largest single process (RSS and PSS) and the peak PSS sum (shared pages split between the
    processes)."""
    if not samples:
        return {}
    mb = 2**20
    rss = [(t, sum(r for r, _ in procs.values()) / mb) for t, procs in samples]
    warm = next((value for t, value in rss if t >= warm_at), rss[-1][1])
    return {
        "first_mb": round(rss[0][1], 1),
        "warm_mb": round(warm, 1),
        "peak_mb": round(max(value for _, value in rss), 1),
        "end_mb": round(rss[-1][1], 1),
        "growth": round(rss[-1][1] / warm - 1, 4),
        "peak_process_mb": round(max(r for _, procs in samples for r, _ in procs.values()) / mb, 1),
        "peak_pss_mb": round(max(sum(p for _, p in procs.values()) for _, procs in samples) / mb, 1),
        # The per-process memory target (issue 10: 60 MB): PSS counts shared pages once overall.
        "peak_process_pss_mb": round(max(p for _, procs in samples for _, p in procs.values()) / mb, 1),
        "processes": max(len(procs) for _, procs in samples),
        "samples": len(samples),
    }


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (and mean) of latencies given in seconds, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }
