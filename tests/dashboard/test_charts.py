"""The SVG line charts: geometry, gaps, escaping, and no inline style (CSP)."""

from __future__ import annotations

import re

import pytest

from service.dashboard.charts import Series, line_chart, nice_ceiling


def _points(svg: str) -> list[list[tuple[float, float]]]:
    runs = re.findall(r'<polyline class="[^"]*" fill="none" points="([^"]+)"', svg)
    return [[tuple(map(float, pair.split(","))) for pair in run.split()] for run in runs]  # type: ignore[misc]


def test_a_gap_splits_the_line_and_leaves_no_dot() -> None:
    svg = line_chart(
        title="t",
        labels=["a", "b", "c", "d", "e"],
        series=[Series("py", "python", [0.5, 1.0, None, 0.0, 0.25])],
        y_max=1.0,
    )
    runs = _points(str(svg))
    assert [len(run) for run in runs] == [2, 2]  # a|b, then d|e: nothing drawn through c
    assert str(svg).count("<circle") == 4


def test_values_map_onto_the_plot_area_top_is_y_max() -> None:
    svg = str(
        line_chart(
            title="t",
            labels=["a", "b"],
            series=[Series("s", "s", [1.0, 0.0])],
            y_max=1.0,
            height=190,
        )
    )
    (run,) = _points(svg)
    (x1, y1), (x2, y2) = run
    assert y1 == pytest.approx(24.0)  # the top margin: the maximum
    assert y2 == pytest.approx(190 - 22.0)  # the bottom of the plot: zero
    assert x1 < x2


def test_y_axis_scales_to_a_nice_ceiling_of_the_data() -> None:
    svg = str(line_chart(title="t", labels=["a", "b"], series=[Series("s", "s", [3.0, 17.0])]))
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert labels == ["0", "5", "10", "15", "20"]


def test_text_is_escaped_and_no_style_attribute_is_emitted() -> None:
    evil = '<script>alert("x")</script>'
    svg = str(line_chart(title=evil, labels=[evil], series=[Series(evil, "python", [0.5], [evil])]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "style=" not in svg


def test_no_data_says_so() -> None:
    svg = str(
        line_chart(title="t", labels=["a", "b"], series=[Series("s", "s", [None, None])], y_max=1.0)
    )
    assert "no data in this window" in svg
    assert "<polyline" not in svg and "<circle" not in svg


def test_series_must_match_the_labels() -> None:
    with pytest.raises(ValueError, match="one value per label"):
        line_chart(title="t", labels=["a"], series=[Series("s", "s", [1.0, 2.0])])


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (0.3, 1), (1, 1), (3, 5), (17, 20), (24, 25), (101, 200)]
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == expected
