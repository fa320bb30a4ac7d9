"""Targets, ratios against the huey reference, and the human-readable table."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RSS_FLAT = 0.05  # "flat": worker RSS at the end within 5% of RSS once the drain was 10% done

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Target:
    label: str
    db: str
    path: tuple[str, ...]  # into the database's figures, primary worker set-up for "variant" paths
    compare: Callable[[float, float], bool]
    limit: float
    text: str

    def value(self, figures: dict[str, Any]) -> float:
        return dig(figures, self.path)


def dig(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = figures
    if path[0] == "variant":
        node = figures["variants"][figures["primary"]]
        path = path[1:]
    for key in path:
        node = node[key]
    return node


KEYED_DRAIN_RATIO = 0.7  # issue 13: a drain with a per-key limit over 100 keys, against the plain one

TARGETS = [
    Target("drain", "sqlite", ("variant", "drain", "jobs_per_s"), operator.ge, 1500, ">= 1,500/s"),
    Target("drain", "postgres", ("variant", "drain", "jobs_per_s"), operator.ge, 2000, ">= 2,000/s"),
    Target("pick-up p99", "sqlite", ("variant", "latency", "p99_ms"), operator.le, 20, "<= 20 ms"),
    Target("pick-up p99", "postgres", ("variant", "latency", "p99_ms"), operator.le, 10, "<= 10 ms"),
    Target("bulk enqueue", "sqlite", ("enqueue", "bulk_per_s"), operator.ge, 20_000, ">= 20,000/s"),
    Target("bulk enqueue", "postgres", ("enqueue", "bulk_per_s"), operator.ge, 20_000, ">= 20,000/s"),
    Target("RSS growth", "sqlite", ("variant", "rss", "growth"), operator.le, RSS_FLAT, "<= +5% (flat)"),
    Target("RSS growth", "postgres", ("variant", "rss", "growth"), operator.le, RSS_FLAT, "<= +5% (flat)"),
    Target("process PSS", "sqlite", ("variant", "rss", "peak_process_pss_mb"), operator.le, 60, "<= 60 MB"),
    Target("process PSS", "postgres", ("variant", "rss", "peak_process_pss_mb"), operator.le, 60, "<= 60 MB"),
]


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of each measured database with its figure and whether it is met."""
    checks = []
    for target in TARGETS:
        figures = results.get(target.db)
        if not figures or "error" in figures or "error" in figures["reference"]:
            continue
        value = target.value(figures)
        checks.append(
            {
                "db": target.db,
                "target": target.label,
                "limit": target.text,
                "value": value,
                "met": bool(target.compare(value, target.limit)),
            }
        )
    return checks


def _target_for(db: str, label: str, checks: list[dict[str, Any]]) -> str:
    for check in checks:
        if check["db"] == db and check["target"] == label:
            return f"{check['limit']:<14} {'PASS' if check['met'] else 'MISS'}"
    return ""


def _rate(value: float) -> str:
    return f"{value:,.0f}/s"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def _ratio(ours: float, ref: float) -> str:
    return f"{ours / ref:.2f}x" if ref else "-"


def _row(label: str, ours: str, ref: str, ratio: str, target: str = "") -> str:
    return f"  {label:<34} {ours:>12} {ref:>12} {ratio:>7}   {target}".rstrip()


def _figure_rows(
    main: dict[str, Any], enq: dict[str, Any], ref: dict[str, Any], db: str, checks: list[dict[str, Any]]
) -> list[str]:
    drain, lat, rss = main["drain"], main["latency"], main["rss"]
    rdrain, rlat, rrss = ref["drain"], ref["latency"], ref["rss"]
    ref_enqueue = ref["enqueue"]["one_by_one_per_s"]
    rows = [
        _row(
            f"drain, {drain['jobs']:,} queued no-ops",
            _rate(drain["jobs_per_s"]),
            _rate(rdrain["jobs_per_s"]),
            _ratio(drain["jobs_per_s"], rdrain["jobs_per_s"]),
            _target_for(db, "drain", checks),
        ),
    ]
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        target = _target_for(db, "pick-up p99", checks) if key == "p99_ms" else ""
        rows.append(
            _row(
                f"idle pick-up {key[:-3]} ({lat['n']} jobs)",
                _ms(lat[key]),
                _ms(rlat[key]),
                _ratio(lat[key], rlat[key]),
                target,
            )
        )
    call, ref_call = lat["enqueue_call"], rlat["enqueue_call"]
    rows.append(
        _row(
            "  of which the enqueue call, p50/p99",
            f"{call['p50_ms']:.1f}/{call['p99_ms']:.1f} ms",
            f"{ref_call['p50_ms']:.1f}/{ref_call['p99_ms']:.1f} ms",
            "",
        )
    )
    return [
        *rows,
        _row(
            f"enqueue one by one ({enq['one_by_one_n']:,})",
            _rate(enq["one_by_one_per_s"]),
            _rate(ref_enqueue),
            _ratio(enq["one_by_one_per_s"], ref_enqueue),
        ),
        _row(
            f"enqueue bulk ({enq['bulk_n']:,}, {enq['bulk_batch']:,}/call)",
            _rate(enq["bulk_per_s"]),
            _rate(ref_enqueue) + "*",
            _ratio(enq["bulk_per_s"], ref_enqueue),
            _target_for(db, "bulk enqueue", checks),
        ),
        *(
            [
                _row(
                    f"enqueue a batch ({enq['batch_n']:,} + 3 callbacks, one call)",
                    _rate(enq["batch_per_s"]),
                    "",
                    _ratio(enq["batch_per_s"], enq["bulk_per_s"]) + " of bulk",
                )
            ]
            if "batch_per_s" in enq
            else []
        ),
        _row(
            f"worker RSS peak, {rss['processes']} processes",
            f"{rss['peak_mb']:.0f} MB",
            f"{rrss['peak_mb']:.0f} MB",
            _ratio(rss["peak_mb"], rrss["peak_mb"]),
        ),
        _row(
            "worker PSS peak (shared split)",
            f"{rss['peak_pss_mb']:.0f} MB",
            f"{rrss['peak_pss_mb']:.0f} MB",
            _ratio(rss["peak_pss_mb"], rrss["peak_pss_mb"]),
        ),
        _row(
            "largest worker process PSS",
            f"{rss['peak_process_pss_mb']:.0f} MB",
            f"{rrss['peak_process_pss_mb']:.0f} MB",
            _ratio(rss["peak_process_pss_mb"], rrss["peak_process_pss_mb"]),
            _target_for(db, "process PSS", checks),
        ),
        _row(
            "largest worker process RSS",
            f"{rss['peak_process_mb']:.0f} MB",
            f"{rrss['peak_process_mb']:.0f} MB",
            _ratio(rss["peak_process_mb"], rrss["peak_process_mb"]),
        ),
        _row(
            "worker RSS warm -> end",
            f"{rss['warm_mb']:.0f} -> {rss['end_mb']:.0f}",
            f"{rrss['warm_mb']:.0f} -> {rrss['end_mb']:.0f}",
            "",
            "",
        ),
        _row(
            "worker RSS growth",
            f"{rss['growth']:+.1%}",
            f"{rrss['growth']:+.1%}",
            "",
            _target_for(db, "RSS growth", checks),
        ),
        _row(
            "worker CPU per job",
            f"{drain['worker_cpu_ms_per_job']:.2f} ms",
            f"{rdrain['worker_cpu_ms_per_job']:.2f} ms",
            _ratio(drain["worker_cpu_ms_per_job"], rdrain["worker_cpu_ms_per_job"]),
        ),
        _row("machine CPU busy in drain", f"{drain['machine_busy']:.0%}", f"{rdrain['machine_busy']:.0%}", ""),
        _row(
            "idle workers' CPU (% of a core)", f"{main['idle_cpu_percent']:.1f}%", f"{ref['idle_cpu_percent']:.1f}%", ""
        ),
        _row("each job ran exactly once", "yes" if drain["exactly_once"] else "NO", "", ""),
        _row("errors in worker logs", str(main["log_problems"]), "", ""),
    ]


def _other_setups(figures: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    """Drain and pick-up p99 of the worker set-ups other than the primary one."""
    lines = []
    for name, v in figures["variants"].items():
        if name == figures["primary"]:
            continue
        drain, ref_drain = v["drain"]["jobs_per_s"], ref["drain"]["jobs_per_s"]
        lines += [
            f"  {name}: {'; '.join(v['command'])}",
            _row("  drain", _rate(drain), _rate(ref_drain), _ratio(drain, ref_drain)),
        ]
        if v["latency"]:
            p99, ref_p99 = v["latency"]["p99_ms"], ref["latency"]["p99_ms"]
            lines.append(_row("  idle pick-up p99", _ms(p99), _ms(ref_p99), _ratio(p99, ref_p99)))
        lines.append(
            _row("  worker RSS peak / growth", f"{v['rss']['peak_mb']:.0f} MB", "", "", f"{v['rss']['growth']:+.1%}")
        )
        plain = figures["variants"].get(name.removeprefix("keyed-100 "))
        if name.startswith("keyed-") and plain is not None:
            ratio = drain / plain["drain"]["jobs_per_s"]
            verdict = "met" if ratio >= KEYED_DRAIN_RATIO else "NOT met"
            lines.append(_row("  keyed drain / plain drain", f"{ratio:.0%}", "", "", f">= 70%: {verdict}"))
    return lines


def db_section(db: str, figures: dict[str, Any], checks: list[dict[str, Any]]) -> list[str]:
    """The table for one database: the primary worker set-up against huey, then the other set-ups."""
    ref = figures["reference"]
    for part in (figures, ref):
        if "error" in part:
            return [f"== {NAMES[db]}: FAILED ==", f"  {part['error']}", ""]
    main = figures["variants"][figures["primary"]]
    return [
        f"== {NAMES[db]} {figures['server_version']}: {'; '.join(main['command'])} ==",
        _row("", "Jobdeck", "huey ref", "ratio", "target"),
        *_figure_rows(main, figures["enqueue"], ref, db, checks),
        *_other_setups(figures, ref),
        "",
    ]


def render(results: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    dbs = [db for db in NAMES if db in results]
    ref_name = next((results[db]["reference"].get("name") for db in dbs if "name" in results[db]["reference"]), "huey")
    m = results["machine"]
    lines = [
        f"Jobdeck benchmark, {results['date']}, revision {results['revision']}, {m['cpus']} CPUs, "
        f"Python {m['python']}, Django {m['django']}",
        f"Reference: {ref_name}, measured right before each database.",
        "ratio = Jobdeck / huey: above 1 is better for rates, below 1 for latencies, memory and CPU.",
        "* huey has no bulk enqueue: compared with its one-by-one rate.",
        "",
    ]
    for db in dbs:
        lines += db_section(db, results[db], checks)
    missed = [f"{NAMES[c['db']]} {c['target']} ({c['value']:,} vs {c['limit']})" for c in checks if not c["met"]]
    unchecked = [NAMES[db] for db in dbs if not any(c["db"] == db for c in checks)]
    if checks:
        lines.append("Targets missed: " + "; ".join(missed) + "." if missed else "Targets: all met.")
    if unchecked:
        lines.append(f"Targets not checked (the run failed): {', '.join(unchecked)}.")
    return "\n".join(lines)
