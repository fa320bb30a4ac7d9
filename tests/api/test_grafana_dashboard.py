"""docs/grafana/jobdeck.json against a real /metrics scrape: every PromQL expression of the dashboard
selects only metric names and labels the exposition emits, and every family emitted has a panel, so
the two cannot drift apart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.api.conftest import ApiClient
from tests.api.test_metrics_exposition import hostile_rows, scrape  # noqa: F401 - the fixture

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "jobdeck.json"
KEYWORDS = {"bool", "offset", "and", "or", "unless", "group_left", "group_right", "inf", "nan"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def expressions(board: dict[str, Any]) -> list[str]:
    """Every panel target's PromQL."""
    return [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) an expression selects on. Strings, durations and functions are
    set aside first, so what remains as a bare identifier is a metric name."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels: set[str] = set()
    for block in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", block))
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {name.strip() for name in grouping.split(",") if name.strip()}
    expr = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    identifiers = re.findall(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in identifiers if name.lower() not in KEYWORDS}, labels


def test_names_in_reads_promql() -> None:
    metrics, labels = names_in(
        'histogram_quantile(0.95, sum by (le, queue) (rate(a_bucket{queue=~"x|y",state!="b{c}"}[5m]))) '
        "/ clamp_min(b_total offset 1h, 1e-9) > bool 0"
    )

    assert metrics == {"a_bucket", "b_total"}
    assert labels == {"le", "queue", "state"}


def test_every_expression_uses_only_emitted_names(api: ApiClient, hostile_rows: None) -> None:  # noqa: F811
    families = scrape(api)
    emitted = {sample.name for family in families.values() for sample in family.samples}
    emitted_labels = {label for family in families.values() for sample in family.samples for label in sample.labels}
    board = dashboard()
    used: set[str] = set()

    for expr in expressions(board):
        metrics, labels = names_in(expr)
        assert metrics, f"no metric in {expr!r}"
        assert metrics <= emitted, f"{expr!r} uses {sorted(metrics - emitted)}, which /metrics does not emit"
        assert labels <= emitted_labels, f"{expr!r} uses labels {sorted(labels - emitted_labels)}"
        used |= metrics
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"]).groups()
            assert metric in emitted and label in emitted_labels
    # Every family has a panel: a counter through its _total, a histogram through its buckets.
    unused = {
        name
        for name in families
        if not ({name, f"{name}_total", f"{name}_bucket", f"{name}_sum", f"{name}_count"} & used)
    }
    assert not unused, f"families with no panel: {sorted(unused)}"


def test_panels_are_laid_out_and_datasource_is_a_variable() -> None:
    board = dashboard()

    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(target["datasource"]["uid"] == "${datasource}" for target in panel["targets"])
