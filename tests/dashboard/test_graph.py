"""dashboard/graph.py: columns by depth, rows by parents, one curve per link; no database."""

from __future__ import annotations

from dashboard import graph


def node(pk: int, status: str = "queued") -> graph.Node:
    return graph.Node(id=pk, status=status, status_label=status.title(), task="tests.tasks.add", href=f"/jobs/{pk}/")


def test_columns_follow_the_longest_path_from_a_job_without_parents() -> None:
    # 1 -> 2 -> 4, 1 -> 4, 3 -> 4: 4 sits right of its deepest parent.
    layout = graph.layout([node(4), node(2), node(1), node(3)], [(1, 2), (2, 4), (1, 4), (3, 4)])

    assert [[box.node.id for box in column] for column in layout.columns] == [[1, 3], [2], [4]]
    assert {box.node.id: box.parents for box in layout.boxes}[4] == (1, 2, 3)
    assert len(layout.edges) == 4


def test_every_link_points_right_and_starts_and_ends_on_its_boxes() -> None:
    layout = graph.layout([node(1), node(2), node(3)], [(1, 2), (1, 3)])
    at = {box.node.id: box for box in layout.boxes}

    for edge in layout.edges:
        start, *_, end_y = edge.path.split()
        parent, child = at[edge.parent], at[edge.child]
        assert parent.x < child.x
        assert start == f"M{parent.x + graph.BOX_W}"
        assert int(end_y) == child.y + graph.BOX_H // 2
    assert layout.width >= max(box.x for box in layout.boxes) + graph.BOX_W


def test_children_are_ordered_by_their_parents_rows() -> None:
    # 1 and 2 in column 0; 5 waits for 2 and 6 for 1: 6 is drawn above 5, next to its parent.
    layout = graph.layout([node(i) for i in (1, 2, 5, 6)], [(2, 5), (1, 6)])

    assert [[box.node.id for box in column] for column in layout.columns] == [[1, 2], [6, 5]]


def test_links_to_jobs_not_drawn_and_cycles_do_not_break_the_drawing() -> None:
    layout = graph.layout([node(1), node(2)], [(1, 2), (2, 1), (1, 99)])

    assert sorted(box.node.id for box in layout.boxes) == [1, 2]
    assert len(layout.edges) == 2


def test_long_task_names_are_cut_from_the_left() -> None:
    long = graph.Node(id=1, status="done", status_label="Done", task="a" * 10 + ".b" * 20, href="/jobs/1/")
    box = graph.layout([long], []).boxes[0]

    assert len(box.task_short) == graph.TASK_CHARS and box.task_short.startswith("\u2026")
    assert box.task_short.endswith(".b")
