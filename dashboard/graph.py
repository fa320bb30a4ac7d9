"""The drawing of a dependency graph: jobs as boxes in columns by depth, links as curves, all in
server-rendered SVG coordinates (no script, so the site's CSP holds).

Given nodes and (parent, child) links, and nothing about where they came from: the workflow page
draws a job's workflow with it, and a page for any other set of linked jobs can too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

BOX_W, BOX_H = 168, 46  # a box: "#123456 Running" over the task name, at 12 px
GAP_X, GAP_Y = 56, 14
PAD = 8
TASK_CHARS = 24  # a longer task name is cut (the full name is in the box's label and the table)


@dataclass(frozen=True)
class Node:
    """One job to draw: its id, the state it is in (and the state's name), its task and its page."""

    id: int
    status: str
    status_label: str
    task: str
    href: str


@dataclass(frozen=True)
class Box:
    node: Node
    layer: int  # the column: 0 for a job without parents, else one more than its deepest parent
    x: int
    y: int
    parents: tuple[int, ...]

    @property
    def task_short(self) -> str:
        task = self.node.task
        return task if len(task) <= TASK_CHARS else "\u2026" + task[-(TASK_CHARS - 1) :]


@dataclass(frozen=True)
class Edge:
    parent: int
    child: int
    path: str  # the SVG path's d: from the parent box's right side to the child box's left side


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]  # in column order, top to bottom within each column
    edges: list[Edge]
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H

    @property
    def columns(self) -> list[list[Box]]:
        columns: dict[int, list[Box]] = defaultdict(list)
        for box in self.boxes:
            columns[box.layer].append(box)
        return [columns[layer] for layer in sorted(columns)]


def _layers(ids: list[int], parents: dict[int, list[int]], children: dict[int, list[int]]) -> dict[int, int]:
    """Each node's depth: the longest path to it from a node without parents (Kahn's order). A node
    on a cycle (none can be stored, but the drawing must not loop) stays in column 0."""
    waiting = {node: len(parents[node]) for node in ids}
    ready = [node for node in ids if waiting[node] == 0]
    depth = dict.fromkeys(ids, 0)
    while ready:
        node = ready.pop()
        for child in children[node]:
            depth[child] = max(depth[child], depth[node] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return depth


def layout(nodes: Sequence[Node], links: Sequence[tuple[int, int]]) -> Layout:
    """Place `nodes` (any order) and the `links` (parent id, child id) between them; links to a node
    not given are left out.

    1. Columns by depth, so every link points right.
    2. Within a column, nodes sorted by the mean row of their parents (fewer crossings), then id.
    3. Coordinates from column and row; each link a curve between the two boxes.
    """
    by_id = {node.id: node for node in nodes}
    ids = sorted(by_id)
    kept = sorted({(p, c) for p, c in links if p in by_id and c in by_id and p != c})
    parents: dict[int, list[int]] = defaultdict(list)
    children: dict[int, list[int]] = defaultdict(list)
    for parent, child in kept:
        parents[child].append(parent)
        children[parent].append(child)
    depth = _layers(ids, parents, children)
    row: dict[int, int] = {}
    boxes: list[Box] = []
    for layer in sorted(set(depth.values())):
        members = [node for node in ids if depth[node] == layer]

        def rank(node: int) -> tuple[float, int]:
            placed = [row[p] for p in parents[node] if p in row]
            return (sum(placed) / len(placed) if placed else -1.0, node)

        for index, node in enumerate(sorted(members, key=rank)):
            row[node] = index
            x, y = PAD + layer * (BOX_W + GAP_X), PAD + index * (BOX_H + GAP_Y)
            boxes.append(Box(node=by_id[node], layer=layer, x=x, y=y, parents=tuple(parents[node])))
    at = {box.node.id: box for box in boxes}
    edges = []
    for parent, child in kept:
        a, b = at[parent], at[child]
        x1, y1, x2, y2 = a.x + BOX_W, a.y + BOX_H // 2, b.x, b.y + BOX_H // 2
        mid = (x1 + x2) // 2
        edges.append(Edge(parent=parent, child=child, path=f"M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}"))
    width = max((box.x + BOX_W for box in boxes), default=0) + PAD
    height = max((box.y + BOX_H for box in boxes), default=0) + PAD
    return Layout(boxes=boxes, edges=edges, width=width, height=height)
