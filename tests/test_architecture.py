"""Module boundaries: only the jobs/states package writes Job.status and job history; only it and services create jobs.

The checks read the source with `ast`, so a read such as `filter(status=Status.QUEUED)` is told apart
from a write such as `update(status=Status.DONE)`; raw SQL strings are checked for the same writes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Reads the source tree: no database is involved (see tests/conftest.py).
pytestmark = pytest.mark.db_independent
SCANNED = ("jobs", "dashboard")
STATES = "jobs/states/"  # the state machine package: every file in it
SERVICES = "jobs/services/enqueue.py"

WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_update"}
CREATE_METHODS = {"create", "bulk_create", "get_or_create", "update_or_create"}
SQL_STATUS_WRITE = re.compile(r"\bUPDATE\b.*\bSET\b.*\bstatus\s*=", re.IGNORECASE | re.DOTALL)
SQL_JOB_INSERT = re.compile(r"\bINSERT\s+INTO\s+\"?jobs_(job|jobevent|attempt)\b", re.IGNORECASE)


def sources() -> dict[str, str]:
    files = sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts)
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in files}


def in_states(path: str) -> bool:
    return path.startswith(STATES)


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _mentions_status(node: ast.AST | None) -> bool:
    """A `defaults={"status": ...}` dict or a `["status", ...]` field list."""
    return node is not None and "status" in _strings(node)


def status_writes(source: str) -> list[str]:
    """Every place in `source` that writes a status field: ORM keywords, attribute assignment, raw SQL."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keywords = {k.arg: k.value for k in node.keywords}
            if name in WRITE_METHODS and (
                "status" in keywords
                or _mentions_status(keywords.get("defaults"))
                or (name == "bulk_update" and _mentions_status(keywords.get("fields") or (node.args[1:2] or [None])[0]))
            ):
                found.append(f"line {node.lineno}: .{name}() sets status")
            elif name == "Job" and "status" in keywords:
                found.append(f"line {node.lineno}: Job(status=...)")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
                found.append(f"line {node.lineno}: assigns .status")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATUS_WRITE.search(node.value):
            found.append(f"line {node.lineno}: SQL sets status")
    return found


def row_creations(source: str) -> list[str]:
    """Every place in `source` that inserts Job, JobEvent or Attempt rows."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CREATE_METHODS
            and isinstance(manager := node.func.value, ast.Attribute)
            and manager.attr == "objects"
            and isinstance(manager.value, ast.Name)
            and manager.value.id in {"Job", "JobEvent", "Attempt"}
        ):
            found.append(f"line {node.lineno}: {manager.value.id}.objects.{node.func.attr}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_JOB_INSERT.search(node.value):
            found.append(f"line {node.lineno}: SQL inserts job rows")
    return found


@pytest.mark.parametrize(
    ("snippet", "writes"),
    [
        ("Job.objects.filter(pk=1, status=Status.QUEUED).update(status=Status.DONE)", True),
        ("Job.objects.filter(status=Status.QUEUED).values_list('pk')", False),
        ("job.status = Status.DONE", True),
        ("Queue.objects.update_or_create(name=n, defaults={'status': 'x'})", True),
        ("Job.objects.bulk_update(jobs, ['status'])", True),
        ("Job(task_name='t', status=Status.DONE)", True),
        ("cursor.execute(\"UPDATE jobs_job SET status = 'done' WHERE id = %s\", [1])", True),
        ("cursor.execute('SELECT status FROM jobs_job WHERE status = %s', ['queued'])", False),
        ("TaskResult(status=TaskResultStatus.RUNNING)", False),
    ],
)
def test_status_write_detector_tells_writes_from_reads(snippet: str, writes: bool) -> None:
    assert bool(status_writes(snippet)) is writes


@pytest.mark.parametrize(
    ("snippet", "creates"),
    [
        ("Job.objects.create(task_name='t')", True),
        ("Job.objects.bulk_create(jobs)", True),
        ("JobEvent.objects.create(job_id=1)", True),
        ("cursor.execute('INSERT INTO jobs_attempt (job_id) VALUES (%s)', [1])", True),
        ("WorkerProcess.objects.create(name='w')", False),
        ("Job.objects.filter(pk=1).first()", False),
    ],
)
def test_row_creation_detector_finds_inserts(snippet: str, creates: bool) -> None:
    assert bool(row_creations(snippet)) is creates


def test_scan_covers_the_state_machine_and_finds_its_writes() -> None:
    files = sources()
    assert SERVICES in files
    assert any(
        status_writes(src) for path, src in files.items() if in_states(path)
    )  # the scan sees the writes that are allowed, so it would see others


def test_only_states_module_writes_job_status() -> None:
    offenders = {
        path: found for path, src in sources().items() if not in_states(path) and (found := status_writes(src))
    }

    assert offenders == {}


def test_update_status_text_appears_only_in_states_module() -> None:
    offenders = [path for path, src in sources().items() if not in_states(path) and ".update(status=" in src]

    assert offenders == []


def test_only_states_and_services_create_job_rows() -> None:
    offenders = {
        path: found
        for path, src in sources().items()
        if not in_states(path) and path != SERVICES and (found := row_creations(src))
    }

    assert offenders == {}


def test_job_history_rows_are_written_only_by_the_states_module() -> None:
    offenders = {
        path: [f for f in row_creations(src) if "JobEvent" in f or "Attempt" in f or "SQL" in f]
        for path, src in sources().items()
        if not in_states(path)
    }

    assert {path: found for path, found in offenders.items() if found} == {}
